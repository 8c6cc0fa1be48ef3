package devnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/internal/freeports"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

func TestSoleAddress(t *testing.T) {
	ipnet := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	lo, pod, other, v6, linkLocal := ipnet("127.0.0.1/8"), ipnet("10.88.0.7/16"), ipnet("192.168.1.10/24"), ipnet("fd00::7/64"), ipnet("169.254.3.4/16")
	for _, tc := range []struct {
		addrs []net.Addr
		want  string // "" an error
		err   string
	}{
		{[]net.Addr{lo, pod, v6, linkLocal}, "10.88.0.7", ""},
		{[]net.Addr{lo, v6}, "", "no IPv4 address but loopback"},
		{[]net.Addr{lo, pod, other}, "", "2 IPv4 addresses (10.88.0.7, 192.168.1.10)"},
	} {
		got, err := soleAddress(tc.addrs)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.err) || errkind.Of(err) != errkind.Invalid)) {
			t.Errorf("soleAddress(%v) = %q, %v; want %q, %q", tc.addrs, got, err, tc.want, tc.err)
		}
	}
	if got, err := resolveListen("10.1.2.3"); got != "10.1.2.3" || err != nil {
		t.Errorf("resolveListen of an address = %q, %v", got, err)
	}
}

func TestValidHost(t *testing.T) {
	for _, h := range []string{"sessionctl-devnet", "sessionctl-devnet.default.svc.cluster.local", "localhost", "10.0.0.1", "a"} {
		if !validHost(h) {
			t.Errorf("%q refused", h)
		}
	}
	for _, h := range []string{"", "0.0.0.0", "::1", "Devnet", "-devnet", "devnet-", "a..b", "a/b", "..", "a b", strings.Repeat("a", 64), "host:80"} {
		if validHost(h) {
			t.Errorf("%q taken for a host", h)
		}
	}
}

func TestJoinURL(t *testing.T) {
	secret := "pods-0123456789abcdef"
	for _, tc := range []struct{ raw, secret, want, err string }{
		{"http://devnet:4001/join/" + secret, "", "http://devnet:4001/join/" + secret, ""},
		{"http://devnet:4001", secret, "http://devnet:4001/join/" + secret, ""},
		{"http://devnet:4001/", secret, "http://devnet:4001/join/" + secret, ""},
		{"http://devnet:4001", "short", "", "want 16 to 128"},
		{"http://devnet:4001", secret + "/..", "", "want 16 to 128"},
		{"http://devnet:4001/join/x", secret, "", "not in the URL twice"},
		{"http://devnet:4001?a=b", secret, "", "not in the URL twice"},
		{"ftp://devnet:4001", secret, "", "the devnet's address alone"},
		{"http://devnet:4001", "", "", "is not a join URL"},
	} {
		got, err := JoinURL(tc.raw, tc.secret)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.err) || errkind.Of(err) != errkind.Invalid)) {
			t.Errorf("JoinURL(%q, %q) = %q, %v; want %q, %q", tc.raw, tc.secret, got, err, tc.want, tc.err)
		}
	}
}

func TestNodesFlag(t *testing.T) {
	for _, tc := range []struct {
		n     int
		given bool
		want  int
	}{{0, false, 0}, {0, true, NoNodes}, {7, true, 7}, {3, true, 3}} {
		if got := NodesFlag(tc.n, tc.given); got != tc.want {
			t.Errorf("NodesFlag(%d, %v) = %d, want %d", tc.n, tc.given, got, tc.want)
		}
	}
}

// TestClusterDevnet: a devnet as deploy/kubernetes runs it: no nodes of
// its own, fixed ports, a name published for it and a join secret given,
// which joiners must hold.
func TestClusterDevnet(t *testing.T) {
	base, err := freeports.Run(portsUsed)
	if err != nil {
		t.Fatal(err)
	}
	dir, secret := t.TempDir(), "pods-0123456789abcdef"
	for _, bad := range []UpConfig{
		{Dir: dir, Nodes: NoNodes, JoinSecret: "short"},
		{Dir: dir, Nodes: NoNodes, BasePort: 65533},
		{Dir: dir, Nodes: NoNodes, Advertise: "Not_A_Host"},
		{Dir: dir, Nodes: 3},
	} {
		if _, err := Open(bad); errkind.Of(err) != errkind.Invalid {
			t.Fatalf("Open(%+v): %v, want a refusal", bad, err)
		}
	}
	d := up(t, UpConfig{Dir: dir, Nodes: NoNodes, BasePort: base, Advertise: "localhost", JoinSecret: secret, BlockTime: 100 * time.Millisecond})
	defer d.Close()
	m := d.Manifest()
	at := func(off int) string { return "localhost:" + strconv.Itoa(base+off) }
	if len(m.Nodes) != 0 || m.Ledger.URL != fmt.Sprintf("http://127.0.0.1:%d", base) || m.Control.URL != fmt.Sprintf("http://127.0.0.1:%d", base+PortControl) ||
		m.Proxy.URL != fmt.Sprintf("http://127.0.0.1:%d", base+PortProxy) || m.Join.URL != "http://"+at(PortControl)+"/join/"+secret {
		t.Fatalf("manifest: nodes %v, ledger %s, control %s, proxy %s, join %s", m.Nodes, m.Ledger.URL, m.Control.URL, m.Proxy.URL, m.Join.URL)
	}
	if len(m.Servers) != 2 || m.Servers[0].URL != "http://"+at(PortFiles) || m.Servers[1].URL != "http://"+at(PortCommunity) {
		t.Fatalf("servers %+v", m.Servers)
	}
	ctx := context.Background()
	jc, err := NewJoinClient(m.Join.URL)
	if err != nil {
		t.Fatal(err)
	}
	info, err := jc.Info(ctx)
	if err != nil || info.LedgerURL != "http://"+at(PortSeed) || strings.Join(info.Servers, " ") != at(PortFiles)+" "+at(PortCommunity) || info.Nodes != 0 {
		t.Fatalf("join info %+v, %v", info, err)
	}
	// A wrong secret: refused, with the reason a pod's log shows.
	wrong, _ := JoinURL("http://"+at(PortControl), "wrong-0123456789abcdef")
	cfg := NodeConfig{Data: t.TempDir()}
	if _, err := JoinRemote(ctx, wrong, "127.0.0.1", &cfg); !errors.Is(err, ErrJoinSecret) || errkind.Of(err) != errkind.Invalid {
		t.Fatalf("JoinRemote with a wrong secret: %v", err)
	}
	// The right one: the node listens on the address given, its edge at the
	// port given (":PORT").
	cfg = NodeConfig{Data: t.TempDir(), HTTPS: ":0"}
	if _, err := JoinRemote(ctx, m.Join.URL, "127.0.0.1", &cfg); err != nil || cfg.HTTPS != "127.0.0.1:0" || cfg.Listen != "/ip4/127.0.0.1/tcp/0" || len(cfg.Servers) != 2 {
		t.Fatalf("JoinRemote: %v; https %q, listen %q, servers %v", err, cfg.HTTPS, cfg.Listen, cfg.Servers)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Resumed, it still has no nodes of its own; asked for some, it refuses.
	if _, err := Open(UpConfig{Dir: dir, Nodes: 4}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "it has 0 nodes, not 4") {
		t.Fatalf("resume with --nodes 4: %v", err)
	}
	d2 := up(t, UpConfig{Dir: dir, BasePort: base, JoinSecret: secret})
	defer d2.Close()
	if m := d2.Manifest(); len(m.Nodes) != 0 || m.Join.URL != fmt.Sprintf("http://127.0.0.1:%d/join/%s", base+PortControl, secret) {
		t.Fatalf("resumed: nodes %v, join %s", m.Nodes, m.Join.URL)
	}
}

// TestEveryAddress: a devnet without nodes of its own that names itself
// listens on every address (a pod's: a port-forward reaches it at
// 127.0.0.1); its manifest says 127.0.0.1, joiners are told its name. With
// nodes of its own, or no name, it is refused: nodes publish 0.0.0.0.
func TestEveryAddress(t *testing.T) {
	for _, bad := range []UpConfig{
		{Dir: t.TempDir(), Listen: "0.0.0.0", Advertise: "devnet"},
		{Dir: t.TempDir(), Listen: "0.0.0.0", Nodes: NoNodes},
		{Dir: t.TempDir(), Listen: "::", Nodes: NoNodes, Advertise: "devnet"},
	} {
		if _, err := Open(bad); errkind.Of(err) != errkind.Invalid || !strings.Contains(err.Error(), "--listen") {
			t.Fatalf("Open(%+v): %v, want a refusal", bad, err)
		}
	}
	d := up(t, UpConfig{Dir: t.TempDir(), Nodes: NoNodes, Listen: "0.0.0.0", Advertise: "localhost", BlockTime: 100 * time.Millisecond})
	defer d.Close()
	m := d.Manifest()
	for what, u := range map[string]string{"ledger": m.Ledger.URL, "control": m.Control.URL, "proxy": m.Proxy.URL, "dashboard": m.Dashboard.URL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("%s at %q", what, u)
		}
	}
	if !strings.HasPrefix(m.Join.URL, "http://localhost:") || !strings.HasPrefix(m.Servers[0].URL, "http://localhost:") ||
		len(m.Servers[1].Rooms) == 0 || !strings.HasPrefix(m.Servers[1].Rooms[0].JoinURL, "http://localhost:") {
		t.Errorf("join %s, servers %+v: want the advertised name", m.Join.URL, m.Servers)
	}
	// Reached at 127.0.0.1, as a port-forward reaches a pod.
	if _, err := ledgerrpc.NewClient(m.Ledger.URL, "").Info(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestJoinErrorsHideTheSecret: what a joiner says when the devnet does not
// answer (a pod's log) names the devnet, not its join secret.
func TestJoinErrorsHideTheSecret(t *testing.T) {
	base, err := freeports.Run(1)
	if err != nil {
		t.Fatal(err)
	}
	jc, err := NewJoinClient(fmt.Sprintf("http://127.0.0.1:%d/join/pods-0123456789abcdef", base))
	if err != nil {
		t.Fatal(err)
	}
	_, err = jc.Info(context.Background())
	var se *sendError
	if !errors.As(err, &se) || strings.Contains(err.Error(), "0123456789abcdef") || !strings.Contains(err.Error(), fmt.Sprint("127.0.0.1:", base)) {
		t.Fatalf("no devnet there: %v", err)
	}
}
