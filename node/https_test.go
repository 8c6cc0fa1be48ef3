package node

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/storagerpc"
)

// TestHTTPSEdge: the storage RPC over HTTPS is the libp2p one: an unsigned
// store to namespace 0, a retrieve with either spelling of the last hash,
// a batch answered in order, JSON-RPC envelopes, errors as text with their
// status, and the other routes real clients call (ping_test, get_stats, the
// obsolete long poll answered 410).
func TestHTTPSEdge(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	n := tn.nodes[tn.order[0]]
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	base := n.HTTPSURL()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("edge at %q", base)
	}
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := hc.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	a := newAccount(t)
	call := func(method string, params any) (int, string) {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
		return post("/storage_rpc/v1", string(b))
	}
	var hashes []string
	for _, text := range []string{"one", "two"} {
		code, body := call("store", a.store(0, []byte(text), false))
		var res storagerpc.SwarmResults
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Hash == "" {
			t.Fatalf("store: %d %s", code, body)
		}
		hashes = append(hashes, res.Hash)
	}
	for _, spelling := range []string{"last_hash", "lastHash"} {
		p := map[string]any{}
		b, _ := json.Marshal(a.retrieve(0, ""))
		json.Unmarshal(b, &p)
		p[spelling] = hashes[0]
		code, body := call("retrieve", p)
		var res storagerpc.RetrieveResult
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Messages) != 1 || res.Messages[0].Hash != hashes[1] {
			t.Fatalf("retrieve after %s: %d %s", spelling, code, body)
		}
	}
	code, body := call("batch", map[string]any{"requests": []any{
		map[string]any{"method": "info", "params": map[string]any{}},
		map[string]any{"method": "retrieve", "params": map[string]any{"pubkey": a.id.String()}},
	}})
	var batch struct {
		Results []struct {
			Code int `json:"code"`
		} `json:"results"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &batch) != nil || len(batch.Results) != 2 || batch.Results[0].Code != 200 || batch.Results[1].Code != 401 {
		t.Fatalf("batch: %d %s", code, body)
	}
	if code, body := call("retrieve", map[string]any{"pubkey": a.id.String(), "timestamp": nowMS()}); code != 401 || strings.HasPrefix(body, "{") {
		t.Fatalf("an unsigned retrieve: %d %q, want 401 and a message", code, body)
	}
	for _, bad := range []string{"", "{", `{"params":{}}`, `{"method":"info"}`, `[1,2]`} {
		if code, _ := post("/storage_rpc/v1", bad); code != 400 {
			t.Errorf("%q: %d, want 400", bad, code)
		}
	}
	if code, _ := post("/onion_req/v2", "not an onion layer"); code != 400 {
		t.Errorf("a bad onion request: %d, want 400", code)
	}
	if code, _ := post("/nowhere", "{}"); code != 404 {
		t.Errorf("an unknown path: %d", code)
	}
	resp, err := hc.Post(base+"/ping_test/v1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if k, _ := base64.StdEncoding.DecodeString(resp.Header.Get("X-Oxen-Snode-Pubkey")); resp.StatusCode != 200 || hex.EncodeToString(k) != n.pubHex {
		t.Fatalf("ping_test: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("POST", base+"/storage_rpc/v1", strings.NewReader(`{"method":"info","params":{}}`))
	req.Header.Set("X-Loki-Long-Poll", "true")
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusGone {
		t.Fatalf("a long poll: %v %v, want 410", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := hc.Get(base + "/get_stats/v1"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("get_stats: %v %v", resp, err)
	} else {
		var st struct{ Version string }
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Version != "2.11.0" {
			t.Fatalf("get_stats version %q", st.Version)
		}
	}
	big := bytes.Repeat([]byte("x"), maxStorageRequest+10)
	if resp, err := hc.Post(base+"/storage_rpc/v1", "application/json", bytes.NewReader(big)); err != nil || resp.StatusCode != 413 {
		t.Fatalf("an oversized request: %v %v", resp, err)
	}
}

// FuzzEdgeStorage: no body makes the HTTPS storage handler panic or answer
// without a status.
func FuzzEdgeStorage(f *testing.F) {
	tn := startTestnet(f, 1, nil)
	n := tn.nodes[tn.order[0]]
	f.Add([]byte(`{"method":"info","params":{}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":[],"method":"batch","params":{"requests":[{}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		n.edgeStorage(t.Context(), w, body, clientKey{addr: "fuzz"})
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// TestEdgeLimitPerAddress: the HTTPS edge counts requests per client
// address: connections opened one per request share one bucket, and
// another address has its own.
func TestEdgeLimitPerAddress(t *testing.T) {
	tn := startTestnet(t, 1, func(c *Config) { c.RateBurst, c.RatePerSecond = 5, 0.001 })
	n := tn.nodes[tn.order[0]]
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		// No keep-alive: every request opens a connection of its own.
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	info := func(hc *http.Client) int {
		t.Helper()
		resp, err := hc.Post(n.HTTPSURL()+"/storage_rpc/v1", "application/json", strings.NewReader(`{"method":"info","params":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	one, two := from("127.0.0.1"), from("127.0.0.2")
	var codes []int
	for range 7 {
		codes = append(codes, info(one))
	}
	if !slices.Equal(codes, []int{200, 200, 200, 200, 200, 429, 429}) {
		t.Fatalf("7 requests from one address, a connection each: %v, want a burst of 5 then 429", codes)
	}
	if code := info(two); code != 200 {
		t.Fatalf("another address: %d, want its own bucket", code)
	}
}

// TestEdgeOnEveryAddress: an edge that listens on every address (a pod's,
// for a port-forward's 127.0.0.1) is published at the node's libp2p
// address, never as 0.0.0.0.
func TestEdgeOnEveryAddress(t *testing.T) {
	tn := startTestnet(t, 1, func(c *Config) { c.HTTPSAddr = "0.0.0.0:0" })
	h := tn.order[0]
	_, port := tn.nodes[h].edgeAddr()
	sn, ok := tn.l.Node(h)
	if !ok || sn.PublicIP != "127.0.0.1" || sn.StoragePort != port || port == 0 {
		t.Fatalf("published %s:%d (%v), the edge listens at port %d", sn.PublicIP, sn.StoragePort, ok, port)
	}
	if u := tn.nodes[h].HTTPSURL(); u != fmt.Sprintf("https://127.0.0.1:%d", port) {
		t.Fatalf("HTTPSURL %s, want the published address", u)
	}
}
