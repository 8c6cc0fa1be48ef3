package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a log writer shared by the proxy's handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if l != "" && json.Unmarshal([]byte(l), &m) != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

// rig is a proxy in front of three plain backends (seed, files, community)
// and one TLS server standing for a node's HTTPS edge.
type rig struct {
	p                      *Proxy
	seed, files, community *httptest.Server
	node, outside          *httptest.Server
	log                    *lockedBuffer
}

// backend answers "NAME HOST PATH" (and the body it read).
func backend(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s", name, r.Host, r.URL.RequestURI(), b)
	}))
}

func addr(s *httptest.Server) string { return s.Listener.Addr().String() }

func newRig(t *testing.T, tweak func(*Config)) *rig {
	t.Helper()
	g := &rig{seed: backend("seed"), files: backend("files"), community: backend("community"), log: &lockedBuffer{}}
	g.node = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "node %s %s", r.URL.Path, b)
	}))
	g.outside = backend("outside")
	cfg := Config{Backends: Backends{Seed: addr(g.seed), Files: addr(g.files), Community: addr(g.community)},
		Tunnel: func(hp string) bool { return hp == addr(g.node) },
		Edge:   edgelog.Sink{Log: zerolog.New(g.log).With().Str("component", "edge").Logger()}}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.p = p
	t.Cleanup(func() {
		p.Close()
		p.Close()
		for _, s := range []*httptest.Server{g.seed, g.files, g.community, g.node, g.outside} {
			s.Close()
		}
	})
	return g
}

// client is an HTTP client that uses the proxy as real clients do: plain
// HTTP in absolute form, HTTPS by CONNECT (certificates unchecked, as
// session.js and the apps do for nodes).
func (g *rig) client(t *testing.T) *http.Client {
	u, _ := url.Parse(g.p.URL())
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRoutes: what each request reaches, through the proxy as a client's
// HTTP stack uses it.
func TestRoutes(t *testing.T) {
	g := newRig(t, nil)
	c := g.client(t)
	cases := []struct {
		method, url, body string
		status            int
		want              string // the answer starts with it
	}{
		{"POST", "http://seed1.getsession.org/json_rpc", "{}", 200, "seed seed1.getsession.org /json_rpc {}"},
		{"POST", "http://seed3.getsession.org:38157/json_rpc", "", 200, "seed seed3.getsession.org:38157 /json_rpc"},
		{"POST", "http://SEED2.GetSession.org./json_rpc", "", 200, "seed "},
		{"POST", "http://filev2.getsession.org/file", "blob", 200, "files filev2.getsession.org /file blob"},
		{"GET", "http://filev2.getsession.org/file/123?x=1", "", 200, "files filev2.getsession.org /file/123?x=1"},
		{"GET", "http://open.getsession.org/room/lobby", "", 200, "community open.getsession.org /room/lobby"},
		{"GET", "http://116.203.70.33/capabilities", "", 200, "community "},
		{"GET", "http://" + addr(g.seed) + "/v1/info", "", 200, "seed "},
		// HTTPS to a real host: tunnelled to the TLS front, then forwarded.
		{"POST", "https://seed1.getsession.org/json_rpc", "{}", 200, "seed seed1.getsession.org /json_rpc {}"},
		{"POST", "https://seed2.getsession.org:4443/json_rpc", "", 200, "seed seed2.getsession.org:4443 /json_rpc"},
		{"GET", "https://filev2.getsession.org/file/7", "", 200, "files filev2.getsession.org /file/7"},
		// HTTPS to a node: tunnelled as it is.
		{"POST", "https://" + addr(g.node) + "/storage_rpc/v1", "ping", 200, "node /storage_rpc/v1 ping"},
		// Outside the devnet: refused, by name and by address.
		{"GET", "http://example.com/", "", 403, "sessionctl's devnet proxy reaches only the devnet: example.com is not one of its hosts"},
		{"GET", "http://" + addr(g.outside) + "/", "", 403, "sessionctl's devnet proxy reaches only the devnet"},
		{"GET", "http://getsession.org/", "", 403, "sessionctl's devnet proxy"},
		{"GET", "http://" + addr(g.node) + "/", "", 403, "sessionctl's devnet proxy"}, // a node speaks HTTPS: CONNECT
		{"GET", "https://example.com/", "", 0, "Forbidden"},
		{"GET", "https://" + addr(g.outside) + "/", "", 0, "Forbidden"},
		{"GET", "https://" + g.p.front.Addr().String() + "/", "", 0, "Forbidden"},
		{"GET", g.p.URL() + "/", "", 403, "sessionctl's devnet proxy"}, // the proxy itself, through itself
	}
	for _, tc := range cases {
		status, body := do(t, c, tc.method, tc.url, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %q, want %d and %q", tc.method, tc.url, status, body, tc.status, tc.want)
		}
	}
	// Every request is one edge line (a tunnel's once it ends).
	c.CloseIdleConnections()
	var ls []map[string]any
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ls = g.log.lines(t); len(ls) >= len(cases)+3 {
			break
		}
	}
	kinds := map[string]int{}
	for _, l := range ls {
		kinds[fmt.Sprint(l["endpoint"], " ", l["status"])]++
		if l["component"] != "edge" || l["duration_ms"] == nil || l["path"] == nil {
			t.Errorf("line %v", l)
		}
	}
	if kinds["proxy CONNECT 403"] != 3 || kinds["proxy GET 403"] != 5 || kinds["proxy CONNECT 200"] < 2 {
		t.Errorf("edge lines by kind: %v", kinds)
	}
}

// rawConnect sends a CONNECT on a new connection and returns the
// connection and the status line.
func rawConnect(t *testing.T, proxyURL, target string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	u, _ := url.Parse(proxyURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	return conn, br, strings.TrimSpace(line)
}

// TestBadRequests: malformed and foreign requests get a clear status and
// the proxy goes on.
func TestBadRequests(t *testing.T) {
	g := newRig(t, nil)
	for _, tc := range []struct{ target, want string }{
		{"example.com:443", "403"},
		{"example.com", "403"}, // no port
		{"seed1.getsession.org", "403"},
		{"[::1]:443", "403"},
		{strings.Repeat("a", 5000) + ":1", "403"},
		{"localhost:" + strings.Split(addr(g.node), ":")[1], "403"}, // nodes by their address only
	} {
		_, _, status := rawConnect(t, g.p.URL(), tc.target)
		if !strings.Contains(status, " "+tc.want+" ") {
			t.Errorf("CONNECT %.40s: %q, want %s", tc.target, status, tc.want)
		}
	}
	u, _ := url.Parse(g.p.URL())
	for _, raw := range []string{
		"GET https://seed1.getsession.org/json_rpc HTTP/1.1\r\nHost: seed1.getsession.org\r\n\r\n",
		"GET ftp://seed1.getsession.org/ HTTP/1.1\r\nHost: seed1.getsession.org\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: seed1.getsession.org\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, raw)
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.Contains(line, " 400 ") {
			t.Errorf("%q: %q, want 400", raw, line)
		}
	}
	// And still serving.
	if status, body := do(t, g.client(t), "POST", "http://seed1.getsession.org/json_rpc", ""); status != 200 {
		t.Errorf("after bad requests: %d %s", status, body)
	}
}

// TestTunnelBound: one tunnel over MaxTunnels is refused (503) while the
// others stay open; closing one makes room.
func TestTunnelBound(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxTunnels = 2 })
	var open []net.Conn
	for i := 0; i < 2; i++ {
		conn, _, status := rawConnect(t, g.p.URL(), addr(g.node))
		if !strings.Contains(status, " 200 ") {
			t.Fatalf("tunnel %d: %q", i, status)
		}
		open = append(open, conn)
	}
	if _, _, status := rawConnect(t, g.p.URL(), addr(g.node)); !strings.Contains(status, " 503 ") {
		t.Fatalf("a third tunnel: %q, want 503", status)
	}
	open[0].Close()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, _, status := rawConnect(t, g.p.URL(), addr(g.node))
		if strings.Contains(status, " 200 ") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no room after a tunnel closed: %q", status)
		}
	}
}

// TestTunnelIdle: a tunnel that carries nothing either way ends after
// IdleTimeout; one in use does not.
func TestTunnelIdle(t *testing.T) {
	g := newRig(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	conn, br, status := rawConnect(t, g.p.URL(), addr(g.seed))
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("CONNECT the seed: %q", status)
	}
	br.ReadString('\n') // the blank line ending the answer
	// In use: requests every 100 ms for a second keep it open.
	for i := 0; i < 10; i++ {
		fmt.Fprintf(conn, "GET /x%d HTTP/1.1\r\nHost: seed\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d in the tunnel: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(b), "seed ") {
			t.Fatalf("answer %q", b)
		}
		time.Sleep(100 * time.Millisecond) // (the traffic pattern under test, not a wait for a condition)
	}
	// Idle: the proxy ends it.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("an idle tunnel carried a byte")
	} else if isTimeout(err) {
		t.Fatal("an idle tunnel stayed open")
	}
}

// TestCloseEndsTunnels: Close returns with tunnels open, having ended
// them (goleak checks nothing is left).
func TestCloseEndsTunnels(t *testing.T) {
	g := newRig(t, nil)
	conn, br, status := rawConnect(t, g.p.URL(), addr(g.node))
	if !strings.Contains(status, " 200 ") {
		t.Fatalf("CONNECT: %q", status)
	}
	done := make(chan error, 1)
	go func() { done <- g.p.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited on an open tunnel")
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br.ReadString('\n')
	if _, err := br.ReadByte(); err == nil || isTimeout(err) {
		t.Fatalf("the tunnel outlived Close: %v", err)
	}
}

// TestNewRefuses: a config that cannot work is refused before anything binds.
func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "nonsense"},
		{MaxTunnels: -1},
		{Backends: Backends{Seed: "no-port"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v: accepted", cfg)
		}
	}
}

// FuzzRoute: whatever a client names, the proxy goes only to a devnet
// address (a backend, its TLS front, an allowed node), and never panics.
func FuzzRoute(f *testing.F) {
	p, err := New(Config{Backends: Backends{Seed: "127.0.0.1:1001", Files: "127.0.0.1:1002", Community: "127.0.0.1:1003"},
		Tunnel: func(hp string) bool { return hp == "127.0.0.1:2000" }})
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	allowed := map[string]bool{"127.0.0.1:1001": true, "127.0.0.1:1002": true, "127.0.0.1:1003": true,
		"127.0.0.1:2000": true, p.front.Addr().String(): true}
	for _, s := range []string{"seed1.getsession.org:443", "filev2.getsession.org", "127.0.0.1:2000", "example.com:80", "[::1]:1", ":", "OPEN.getsession.org.:4443"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, hostport string, connect bool) {
		if target, ok := p.route(hostport, connect); ok && !allowed[target] {
			t.Fatalf("%q (connect %v) went to %q", hostport, connect, target)
		}
	})
}
