package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/sessionctl/sessionctl/internal/edgelog"
)

// What the HTTPS edge's log lines call each request (Config.Edge): the
// route, then, once the body is read, the storage method and namespace
// (a batch: its subrequests).

// edgeEndpoint names an edge request from its path.
func edgeEndpoint(r *http.Request) string {
	switch r.URL.Path {
	case "/storage_rpc/v1":
		return "storage_rpc"
	case "/onion_req/v2":
		return "onion_req"
	case "/ping_test/v1":
		return "ping_test"
	}
	return "not_found"
}

// maxNotedRequests bounds the subrequests a batch's line lists, and
// maxNotedParams the params read again for the line (a batch of large
// stores is named by its method only).
const (
	maxNotedRequests = 16
	maxNotedParams   = 1 << 20
)

// noteStorage tells the edge's log line which storage call a request made.
func noteStorage(w http.ResponseWriter, method string, params json.RawMessage) {
	endpoint := "storage_rpc/" + method
	if len(params) > maxNotedParams {
		edgelog.Note(w, endpoint, "", "")
		return
	}
	if method != "batch" && method != "sequence" {
		edgelog.Note(w, endpoint, namespaceOf(method, params), "")
		return
	}
	var p struct {
		Requests []struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	if json.Unmarshal(params, &p) != nil {
		edgelog.Note(w, endpoint, "", "")
		return
	}
	var b strings.Builder
	for i, sub := range p.Requests {
		if i == maxNotedRequests {
			fmt.Fprintf(&b, " +%d more", len(p.Requests)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(edgelog.Trim(sub.Method))
		if ns := namespaceOf(sub.Method, sub.Params); ns != "" {
			b.WriteString(":" + ns)
		}
	}
	edgelog.Note(w, endpoint, "", b.String())
}

// namespaceOf is a storage call's namespace as the request gave it (a
// number, or "all"); a store or retrieve without one is namespace 0.
func namespaceOf(method string, params json.RawMessage) string {
	var p struct {
		Namespace json.RawMessage `json:"namespace"`
	}
	if json.Unmarshal(params, &p) == nil && len(p.Namespace) > 0 {
		var n int64
		var s string
		switch {
		case json.Unmarshal(p.Namespace, &n) == nil:
			return fmt.Sprint(n)
		case json.Unmarshal(p.Namespace, &s) == nil:
			return edgelog.Trim(s)
		}
		return "?"
	}
	if method == "store" || method == "retrieve" {
		return "0"
	}
	return ""
}
