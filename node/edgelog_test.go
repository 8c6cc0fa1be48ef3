package node

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
)

// lockedBuffer is a log writer that handlers of many goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines are the JSON lines written so far.
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

// TestEdgeLog: each request at the HTTPS edge gives exactly one line, with
// the storage method and namespace (a batch: its subrequests), the status
// and the duration; bad requests are lines too.
func TestEdgeLog(t *testing.T) {
	var buf lockedBuffer
	var mu sync.Mutex
	counts := map[string]int{}
	tn := startTestnet(t, 1, func(c *Config) {
		c.Edge = edgelog.Sink{Log: zerolog.New(&buf).With().Str("component", "edge").Str("node", "node-1").Logger(),
			Observe: func(e edgelog.Entry) { mu.Lock(); counts[e.Endpoint]++; mu.Unlock() }}
	})
	n := tn.nodes[tn.order[0]]
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	a := newAccount(t)
	body := func(method string, params any) string {
		b, _ := json.Marshal(map[string]any{"method": method, "params": params})
		return string(b)
	}
	cases := []struct {
		path, body string
		want       map[string]any
	}{
		{"/storage_rpc/v1", body("store", a.store(0, []byte("hi"), false)),
			map[string]any{"endpoint": "storage_rpc/store", "namespace": "0", "status": 200.0}},
		{"/storage_rpc/v1", body("retrieve", a.retrieve(2, "")),
			map[string]any{"endpoint": "storage_rpc/retrieve", "namespace": "2", "status": 200.0}},
		{"/storage_rpc/v1", body("batch", map[string]any{"requests": []any{
			map[string]any{"method": "retrieve", "params": a.retrieve(0, "")},
			map[string]any{"method": "retrieve", "params": a.retrieve(3, "")},
			map[string]any{"method": "info", "params": map[string]any{}},
		}}), map[string]any{"endpoint": "storage_rpc/batch", "requests": "retrieve:0 retrieve:3 info", "status": 200.0}},
		{"/storage_rpc/v1", `{"method":`, map[string]any{"endpoint": "storage_rpc", "status": 400.0}},
		{"/onion_req/v2", "not an onion layer", map[string]any{"endpoint": "onion_req", "status": 400.0}},
		{"/ping_test/v1", "", map[string]any{"endpoint": "ping_test", "status": 200.0}},
		{"/nowhere", "{}", map[string]any{"endpoint": "not_found", "path": "/nowhere", "status": 404.0}},
	}
	for i, tc := range cases {
		resp, err := hc.Post(n.HTTPSURL()+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var ls []map[string]any
		for end := time.Now().Add(10 * time.Second); ; {
			if ls = buf.lines(t); len(ls) > i || time.Now().After(end) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(ls) != i+1 {
			t.Fatalf("%s %s: %d lines after %d requests: %v", tc.path, tc.body, len(ls), i+1, ls)
		}
		l := ls[i]
		for k, v := range tc.want {
			if l[k] != v {
				t.Errorf("%s: %s=%v, want %v (line %v)", tc.path, k, l[k], v, l)
			}
		}
		if l["component"] != "edge" || l["node"] != "node-1" || l["level"] != "info" || l["method"] != "POST" || l["remote"] == nil {
			t.Errorf("line %v", l)
		}
		if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("duration %v", l["duration_ms"])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if counts["storage_rpc/store"] != 1 || counts["storage_rpc/batch"] != 1 || counts["not_found"] != 1 {
		t.Errorf("observed %v", counts)
	}
}

// TestNamespaceOf: what a line says of a storage call's namespace.
func TestNamespaceOf(t *testing.T) {
	for _, tc := range []struct{ method, params, want string }{
		{"store", `{}`, "0"},
		{"retrieve", `{"namespace":-10}`, "-10"},
		{"delete_all", `{"namespace":"all"}`, "all"},
		{"info", `{}`, ""},
		{"store", `{"namespace":[1]}`, "?"},
		{"store", `not json`, "0"},
	} {
		if got := namespaceOf(tc.method, json.RawMessage(tc.params)); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.params, got, tc.want)
		}
	}
}
