package ledgerrpc

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/edgelog"
)

// TestSeedEdgeLog: each request a client makes at the seed is one edge
// line naming the JSON-RPC method; sessionctl's own routes are none.
func TestSeedEdgeLog(t *testing.T) {
	l, _ := start(t, 0)
	var buf bytes.Buffer
	srv, err := NewServer(ServerConfig{Ledger: l, Edge: edgelog.Sink{Log: zerolog.New(&buf)}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, tc := range []struct{ method, path, body, endpoint string }{
		{"POST", "/json_rpc", `{"jsonrpc":"2.0","id":1,"method":"get_n_service_nodes","params":{}}`, "json_rpc/get_n_service_nodes"},
		{"POST", "/json_rpc", `{"jsonrpc":"2.0","id":1,"method":"get_info"}`, "json_rpc/get_info"},
		{"POST", "/json_rpc", `{not json`, "json_rpc"},
		{"GET", "/json_rpc", ``, "seed_not_found"},
		{"GET", "/v1/info", ``, ""},
	} {
		buf.Reset()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		out := strings.TrimSpace(buf.String())
		if tc.endpoint == "" {
			if out != "" {
				t.Errorf("%s %s: logged %s", tc.method, tc.path, out)
			}
			continue
		}
		var m map[string]any
		if strings.Count(out, "\n") != 0 || json.Unmarshal([]byte(out), &m) != nil {
			t.Fatalf("%s %s: want one line, got %q", tc.method, tc.path, out)
		}
		if m["endpoint"] != tc.endpoint || m["method"] != tc.method || m["status"] == nil {
			t.Errorf("%s %s: %v, want endpoint %s", tc.method, tc.path, m, tc.endpoint)
		}
	}
}
