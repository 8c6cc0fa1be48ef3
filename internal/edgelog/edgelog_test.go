package edgelog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// lines decodes the JSON log lines written to buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// TestHandler: each request gives exactly one info line with the endpoint
// (as a handler refined it), method, path, status and duration, and one
// observed entry; a handler that writes nothing is 200, one that panics
// 500 (and the panic goes on to net/http).
func TestHandler(t *testing.T) {
	cases := []struct {
		name     string
		h        http.HandlerFunc
		status   int
		endpoint string
		ns, reqs string
		panics   bool
	}{
		{"noted", func(w http.ResponseWriter, r *http.Request) {
			Note(w, "storage_rpc/retrieve", "2", "")
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("x"))
		}, http.StatusTeapot, "storage_rpc/retrieve", "2", "", false},
		{"batch", func(w http.ResponseWriter, r *http.Request) {
			Note(w, "storage_rpc/batch", "", "retrieve:0 retrieve:2")
		}, http.StatusOK, "storage_rpc/batch", "", "retrieve:0 retrieve:2", false},
		{"write only", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, http.StatusOK, "path:/p", "", "", false},
		{"status twice", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK) // net/http ignores it; so do we
		}, http.StatusNotFound, "path:/p", "", "", false},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, http.StatusInternalServerError, "path:/p", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			var seen []Entry
			s := Sink{Log: zerolog.New(&buf).With().Str("component", "edge").Logger(), Observe: func(e Entry) { seen = append(seen, e) }}
			h := s.Handler(func(r *http.Request) string { return "path:" + r.URL.Path }, tc.h)
			func() {
				defer func() {
					if p := recover(); (p != nil) != tc.panics {
						t.Errorf("panic %v, want one: %v", p, tc.panics)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/p", nil))
			}()
			ls := lines(t, &buf)
			if len(ls) != 1 || len(seen) != 1 {
				t.Fatalf("%d lines and %d entries, want one each: %v", len(ls), len(seen), ls)
			}
			l := ls[0]
			if l["level"] != "info" || l["message"] != Message || l["component"] != "edge" || l[KeyEndpoint] != tc.endpoint ||
				l[KeyMethod] != "POST" || l[KeyPath] != "/p" || l[KeyStatus] != float64(tc.status) {
				t.Errorf("line %v, want endpoint %s status %d", l, tc.endpoint, tc.status)
			}
			if _, ok := l[KeyDuration].(float64); !ok {
				t.Errorf("no duration in %v", l)
			}
			if got, _ := l[KeyNamespace].(string); got != tc.ns {
				t.Errorf("namespace %q, want %q", got, tc.ns)
			}
			if got, _ := l[KeyRequests].(string); got != tc.reqs {
				t.Errorf("requests %q, want %q", got, tc.reqs)
			}
			if seen[0].Endpoint != tc.endpoint || seen[0].Status != tc.status {
				t.Errorf("observed %+v", seen[0])
			}
		})
	}
}

// TestBounds: what a request names is cut before it reaches a line; the
// zero Sink records nothing and does not fail; Note outside Handler does
// nothing.
func TestBounds(t *testing.T) {
	var buf bytes.Buffer
	s := Sink{Log: zerolog.New(&buf)}
	s.Record(Entry{Endpoint: "x", Path: strings.Repeat("a", 10_000), Status: 200})
	if l := lines(t, &buf)[0]; len(l[KeyPath].(string)) > maxField+3 {
		t.Errorf("path of %d bytes logged", len(l[KeyPath].(string)))
	}
	Sink{}.Record(Entry{Endpoint: "x"})
	Note(httptest.NewRecorder(), "x", "y", "z")
	rec := &recorder{ResponseWriter: httptest.NewRecorder()}
	Note(rec, strings.Repeat("m", 10_000), "", "")
	if len(rec.e.Endpoint) > maxField+3 {
		t.Errorf("endpoint of %d bytes kept", len(rec.e.Endpoint))
	}
}
