// Package edgelog writes the one line each request at the devnet's client
// edge gets: a node's HTTPS edge, the seed's JSON-RPC, the proxy. It is
// what a developer reads to see exactly which calls their own client made
// (`sessionctl logs edge`), and what the dashboard counts.
//
//	sink := edgelog.Sink{Log: log, Observe: count}  // the zero Sink records nothing
//	h := sink.Handler(name, mux)                    // one line a request: endpoint, method, status, duration
//	// inside a handler, once the body says more than the path:
//	edgelog.Note(w, "storage_rpc/retrieve", "2", "")
//
// A line is info level, message "request", with the fields of Entry under
// the keys below. The component (component=edge) is the logger's: the
// devnet gives every edge the logger of its component "edge".
package edgelog

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// The keys of an edge line.
const (
	KeyEndpoint  = "endpoint"    // what was called: "storage_rpc/store", "onion_req", "json_rpc/get_n_service_nodes", "proxy CONNECT"
	KeyMethod    = "method"      // the HTTP method
	KeyPath      = "path"        // the request's path (a proxy: the host:port asked for)
	KeyNamespace = "namespace"   // a storage call's namespace
	KeyRequests  = "requests"    // a batch's subrequests: "retrieve:0 retrieve:2"
	KeyTarget    = "to"          // a proxy: where it went (a devnet address), "" when refused
	KeyRemote    = "remote"      // the client's address
	KeyStatus    = "status"      // the HTTP status answered
	KeyDuration  = "duration_ms" // from the request's headers read to the answer written (a tunnel: to its end)
	KeyBytes     = "bytes"       // a tunnel: the bytes carried, both ways
	Message      = "request"
)

// maxField bounds a field taken from the request (a path, a method name).
const maxField = 120

// Entry is one request at the edge.
type Entry struct {
	Endpoint  string
	Method    string
	Path      string
	Namespace string
	Requests  string
	Target    string
	Remote    string
	Status    int
	Duration  time.Duration
	Bytes     int64
}

// Sink is where an edge's entries go: a line on Log, and Observe (the
// dashboard's counts), which must not block. The zero Sink drops them.
type Sink struct {
	Log     zerolog.Logger
	Observe func(Entry)
}

// Record writes e's line and tells Observe.
func (s Sink) Record(e Entry) {
	ev := s.Log.Info().Str(KeyEndpoint, e.Endpoint).Str(KeyMethod, e.Method)
	if e.Path != "" {
		ev = ev.Str(KeyPath, Trim(e.Path))
	}
	if e.Namespace != "" {
		ev = ev.Str(KeyNamespace, e.Namespace)
	}
	if e.Requests != "" {
		ev = ev.Str(KeyRequests, e.Requests)
	}
	if e.Target != "" {
		ev = ev.Str(KeyTarget, e.Target)
	}
	if e.Remote != "" {
		ev = ev.Str(KeyRemote, e.Remote)
	}
	if e.Bytes != 0 {
		ev = ev.Int64(KeyBytes, e.Bytes)
	}
	ev.Int(KeyStatus, e.Status).Float64(KeyDuration, Millis(e.Duration)).Msg(Message)
	if s.Observe != nil {
		s.Observe(e)
	}
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Trim bounds a string taken from a request for a log line.
func Trim(s string) string {
	if len(s) > maxField {
		return s[:maxField] + "..."
	}
	return s
}

// Handler records one entry for each request next answers. endpoint names
// a request from what its headers say; a handler refines it with Note.
func (s Sink) Handler(endpoint func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, e: Entry{Endpoint: endpoint(r), Method: r.Method, Path: r.URL.Path, Remote: r.RemoteAddr}}
		defer func() {
			// A handler that panicked (net/http then answers nothing and
			// logs) still made a request that reached the edge.
			p := recover()
			if p != nil && rec.e.Status == 0 {
				rec.e.Status = http.StatusInternalServerError
			}
			if rec.e.Status == 0 {
				rec.e.Status = http.StatusOK // answered nothing: net/http's 200
			}
			rec.e.Duration = time.Since(start)
			s.Record(rec.e)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// Note refines the entry of the request whose writer is w (a writer
// Handler gave): what the body named. Empty strings leave a field as it
// was. Outside Handler it does nothing.
func Note(w http.ResponseWriter, endpoint, namespace, requests string) {
	for w != nil {
		if rec, ok := w.(*recorder); ok {
			if endpoint != "" {
				rec.e.Endpoint = Trim(endpoint)
			}
			if namespace != "" {
				rec.e.Namespace = Trim(namespace)
			}
			if requests != "" {
				rec.e.Requests = Trim(requests)
			}
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// recorder notes the status a handler answers.
type recorder struct {
	http.ResponseWriter
	e Entry
}

func (r *recorder) WriteHeader(code int) {
	if r.e.Status == 0 {
		r.e.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.e.Status == 0 {
		r.e.Status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes a flush on (a streamed answer).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
