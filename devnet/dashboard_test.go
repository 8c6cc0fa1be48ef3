package devnet

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
)

// slowPage is a page that reads its events only once let go: its first
// write blocks until then.
type slowPage struct {
	header http.Header
	let    chan struct{}
	mu     sync.Mutex
	buf    bytes.Buffer
	once   sync.Once
	first  chan struct{} // closed at the first write
}

func (p *slowPage) Header() http.Header { return p.header }
func (p *slowPage) WriteHeader(int)     {}
func (p *slowPage) Flush()              {}
func (p *slowPage) Write(b []byte) (int, error) {
	p.once.Do(func() { close(p.first) })
	<-p.let
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}
func (p *slowPage) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// TestDashboardTellsMissedEvents: a page that falls behind misses events
// (the hub never blocks), and is told so as soon as it reads again, so it
// reloads the state instead of showing a stale one until the next event.
func TestDashboardTellsMissedEvents(t *testing.T) {
	db := &dashboard{hub: NewEvents()}
	page := &slowPage{header: http.Header{}, let: make(chan struct{}), first: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := httptest.NewRequest("GET", "/events", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.events(page, r)
	}()
	<-page.first // the stream's opening line: the page is watching
	for i := range watcherBuffer + 10 {
		db.hub.publish(map[string]any{"t": "block", "height": i})
	}
	if db.hub.missed.Load() == 0 {
		t.Fatal("nothing was missed")
	}
	close(page.let)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(page.text(), `"t":"missed"`) {
		if time.Now().After(deadline) {
			t.Fatal("the page was not told it missed events")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestDashboardStateAfterKill: the state a page reloads on a node's event
// shows that event, however recently the last snapshot was made (it was
// cached for a second: a page that reloaded at once saw the node still
// running, and with blocks on demand nothing made it reload again).
func TestDashboardStateAfterKill(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{}})
	t.Cleanup(func() { d.Close() })
	running := func() map[string]bool {
		t.Helper()
		w := httptest.NewRecorder()
		d.dash.state(w, httptest.NewRequest("GET", "/state", nil))
		var st dashState
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, n := range st.Nodes {
			out[n.Name] = n.Running
		}
		return out
	}
	if !running()["node-2"] {
		t.Fatal("node-2 is not running at the start")
	}
	cc, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(context.Background(), "node-2"); err != nil {
		t.Fatal(err)
	}
	if running()["node-2"] {
		t.Fatal("the state after the kill's event still shows node-2 running")
	}
}

// TestWaitViewer: WaitViewer returns once a page asks for the state, not
// for a bare GET of the page or a wrong secret; a devnet asked to stop
// first says so.
func TestWaitViewer(t *testing.T) {
	d := up(t, UpConfig{Dir: t.TempDir(), Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{}})
	t.Cleanup(func() { d.Close() })
	url := d.Manifest().Dashboard.URL
	get := func(u string) int {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(url) != http.StatusOK || get(strings.Replace(url, "/dash/", "/dash/0", 1)+"state") != http.StatusNotFound {
		t.Fatal("the page, or a wrong secret's state")
	}
	select {
	case <-d.viewer.done():
		t.Fatal("viewed before any page asked for the state")
	default:
	}
	if get(url+"state") != http.StatusOK {
		t.Fatal("state")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.WaitViewer(ctx, nil); err != nil {
		t.Fatal(err)
	}
	stopped := &Devnet{down: make(chan struct{})}
	stopped.requestDown()
	if err := stopped.WaitViewer(ctx, nil); !errors.Is(err, ErrStoppedUnviewed) {
		t.Fatalf("stopped: %v", err)
	}
}

// dashState reads the dashboard's state as a page does.
func dashStateT(t *testing.T, d *Devnet) dashState {
	t.Helper()
	w := httptest.NewRecorder()
	d.dash.state(w, httptest.NewRequest("GET", "/state", nil))
	var st dashState
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("state: %v\n%s", err, w.Body.Bytes())
	}
	return st
}

// TestDashboardNames: the state names what the devnet knows by name: an
// identity made after the devnet ('id new dave') is an account on the
// ring, and a group's members are named, not hex prefixes; a killed node
// is at once one fewer running and still active on the ledger.
func TestDashboardNames(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{"alice", "bob"}})
	t.Cleanup(func() { d.Close() })
	dave, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ks.Create("dave", dave); err != nil {
		t.Fatal(err)
	}
	gk, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gid := identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(gk.Ed25519Public())}
	alice := ClientKeys(d.st.Seed, "alice").AccountID().String()
	g := &group.Group{ID: gid.String(), Name: "book club", Me: alice, Generation: 2, Members: []groupconfig.Member{
		{ID: alice, Admin: true}, {ID: dave.AccountID().String()}, {ID: "05" + strings.Repeat("ab", 32)}}}
	if err := (&group.Store{Dir: dir + "/groups"}).Save("alice", g); err != nil {
		t.Fatal(err)
	}
	st := dashStateT(t, d)
	var names []string
	for _, a := range st.Accounts {
		names = append(names, a.Name)
	}
	if want := []string{"alice", "bob", "dave"}; !slices.Equal(names, want) {
		t.Errorf("accounts %v, want %v", names, want)
	}
	if len(st.Groups) != 1 {
		t.Fatalf("groups: %+v", st.Groups)
	}
	var members []string
	for _, m := range st.Groups[0].Members {
		members = append(members, m.Name)
	}
	if want := []string{"alice", "dave", ""}; !slices.Equal(members, want) {
		t.Errorf("group members named %q, want %q (a stranger stays unnamed)", members, want)
	}
	if st.Running != 4 || st.Active != 4 {
		t.Errorf("running %d, active %d; want 4 and 4", st.Running, st.Active)
	}
	cc, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(context.Background(), "node-2"); err != nil {
		t.Fatal(err)
	}
	if st := dashStateT(t, d); st.Running != 3 || st.Active != 4 {
		t.Errorf("after a kill: running %d, active %d; want 3 running and 4 active on the ledger until the vote", st.Running, st.Active)
	}
}

// TestDashboardViewerOperator: the viewer link (the manifest's dashboard)
// shows everything and changes nothing: its kill, restart and mine are
// refused, and it is told it is a viewer. The operator link carries the
// operator token, which the page sends with its changes; the banner prints
// both links.
func TestDashboardViewerOperator(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{"alice", "bob"}})
	t.Cleanup(func() { d.Close() })
	m := d.Manifest()
	view, op := m.Dashboard.URL, m.DashboardOperator.URL
	base, token, ok := strings.Cut(op, "#operator=")
	if !ok || base != view || token == "" || strings.Contains(view, token) || strings.Contains(view, d.token) || strings.Contains(op, d.token) {
		t.Fatalf("viewer %q, operator %q: want the viewer link with the operator token (not the control token) in its fragment", view, op)
	}
	call := func(method, path, bearer string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, view+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	h0 := d.Network.Ledger.Info().Height
	for _, bearer := range []string{"", "wrong", d.token} {
		for _, path := range []string{"nodes/node-2/kill", "nodes/node-2/restart", "mine"} {
			if code, body := call("POST", path, bearer); code != http.StatusForbidden || !strings.Contains(body, "viewer link") {
				t.Errorf("POST %s with %q: %d %s, want 403 from the viewer link", path, bearer, code, body)
			}
		}
		if _, body := call("GET", "role", bearer); !strings.Contains(body, `"viewer"`) {
			t.Errorf("role with %q: %s", bearer, body)
		}
	}
	if !d.Network.Running(1) || d.Network.Ledger.Info().Height != h0 {
		t.Fatal("the viewer link changed the devnet")
	}
	if _, body := call("GET", "role", token); !strings.Contains(body, `"operator"`) {
		t.Errorf("role with the operator token: %s", body)
	}
	if code, body := call("POST", "nodes/node-2/kill", token); code != http.StatusOK || d.Network.Running(1) {
		t.Errorf("kill with the operator token: %d %s", code, body)
	}
	if code, body := call("POST", "mine", token); code != http.StatusOK || d.Network.Ledger.Info().Height != h0+1 {
		t.Errorf("mine with the operator token: %d %s", code, body)
	}
	var banner bytes.Buffer
	m.WriteBanner(&banner, Dir(dir), 0, false)
	if !strings.Contains(banner.String(), "Dashboard "+view+"  (the viewer link") || !strings.Contains(banner.String(), "Operator  "+op+"  (") {
		t.Errorf("the banner does not print both links:\n%s", banner.String())
	}
}

// TestStateGzip: a state big enough is sent compressed to a page that
// takes gzip, and decompresses to the same JSON; one that does not take
// it gets the JSON.
func TestStateGzip(t *testing.T) {
	for in, want := range map[string]bool{"gzip": true, "gzip, deflate, br": true, "br;q=1.0, gzip;q=0.8": true, "gzip;q=0": false, "": false, "deflate": false, "x-gzip": false} {
		r := httptest.NewRequest("GET", "/state", nil)
		r.Header.Set("Accept-Encoding", in)
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", in, got, want)
		}
	}
	big := bytes.Repeat([]byte(`{"name":"node-1","state":"active"},`), 2000)
	db := &dashboard{hub: NewEvents(), snap: big, snapGz: gzipped(big), snapAt: time.Now().Add(time.Hour)}
	db.d = &Devnet{} // not asked: the snapshot is fresh
	if len(db.snapGz) == 0 || len(db.snapGz) >= len(big)/4 {
		t.Fatalf("compressed %d bytes to %d", len(big), len(db.snapGz))
	}
	for _, enc := range []string{"gzip", ""} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/state", nil)
		r.Header.Set("Accept-Encoding", enc)
		db.state(w, r)
		body := w.Body.Bytes()
		if w.Header().Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		} else if enc == "gzip" {
			t.Error("not compressed for a page that takes gzip")
		}
		if !bytes.Equal(body, big) {
			t.Errorf("Accept-Encoding %q: the state differs", enc)
		}
	}
}
