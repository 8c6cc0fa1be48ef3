package community

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Batches (pysogs sogs/routes/general.py): POST /batch runs a list of
// subrequests and answers each; POST /sequence runs them in order and
// stops after the first that is not 2xx. Every subrequest runs as the
// outer request's user (its own X-SOGS headers are ignored). A batch is
// checked whole before any of it runs: one malformed subrequest refuses
// them all (400), so nothing is done half.

// SubRequest is one request of a batch: method, path (with its query), and
// for POST and PUT exactly one of json, b64 or bytes.
type SubRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	JSON    json.RawMessage   `json:"json,omitempty"`
	B64     *string           `json:"b64,omitempty"`
	Bytes   *string           `json:"bytes,omitempty"`
}

// SubResponse is the answer to one subrequest: the body is JSON when the
// content type is, else the bytes in base64.
type SubResponse struct {
	Code    int               `json:"code"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// parseSub checks one subrequest and builds its request.
func parseSub(r *http.Request, sr SubRequest) (*http.Request, error) {
	hasBody := sr.Method == "POST" || sr.Method == "PUT"
	if !hasBody && sr.Method != "GET" && sr.Method != "DELETE" {
		return nil, fmt.Errorf("method %q: want GET, DELETE, POST or PUT", sr.Method)
	}
	if !strings.HasPrefix(sr.Path, "/") || strings.HasPrefix(sr.Path, "//") || len(sr.Path) > 4096 ||
		strings.IndexFunc(sr.Path, func(c rune) bool { return c < ' ' || c == 0x7f }) >= 0 {
		return nil, fmt.Errorf("path %q: want an absolute path", sr.Path)
	}
	p := sr.Path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "/batch" || p == "/sequence" {
		return nil, fmt.Errorf("path %s: a batch cannot hold a batch", p)
	}
	n := 0
	var body []byte
	ctype := ""
	if len(sr.JSON) > 0 {
		n++
		body, ctype = sr.JSON, "application/json"
	}
	if sr.B64 != nil {
		n++
		b, err := decodeB64(*sr.B64)
		if err != nil {
			return nil, fmt.Errorf("path %s: b64 is not base64", sr.Path)
		}
		body, ctype = b, "application/octet-stream"
	}
	if sr.Bytes != nil {
		n++
		body, ctype = []byte(*sr.Bytes), "application/octet-stream"
	}
	switch {
	case hasBody && n != 1:
		return nil, fmt.Errorf("%s %s: want exactly one of json, b64 or bytes", sr.Method, sr.Path)
	case !hasBody && n != 0:
		return nil, fmt.Errorf("%s %s: takes no body", sr.Method, sr.Path)
	}
	u, err := url.ParseRequestURI(sr.Path)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return nil, fmt.Errorf("path %q: want an absolute path", sr.Path)
	}
	in, err := http.NewRequestWithContext(r.Context(), sr.Method, "http://sogs"+sr.Path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("path %q: malformed", sr.Path)
	}
	in.RequestURI = sr.Path
	in.RemoteAddr = r.RemoteAddr
	for k, v := range sr.Headers {
		if k == "" || strings.ContainsAny(k, " \r\n:\x00") || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("path %s: a malformed header", sr.Path)
		}
		if strings.HasPrefix(strings.ToLower(k), "x-sogs-") {
			continue // the outer request's user holds
		}
		in.Header.Set(k, v)
	}
	if ctype != "" && in.Header.Get("Content-Type") == "" {
		in.Header.Set("Content-Type", ctype)
	}
	return in, nil
}

// batch serves /batch (sequential false) and /sequence.
func (s *Server) batch(sequential bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var subs []SubRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		if err := dec.Decode(&subs); err != nil {
			httpserve.WriteError(w, http.StatusBadRequest, "want a JSON list of subrequests: {method, path[, headers][, json|b64|bytes]}")
			return
		}
		if len(subs) > maxBatch {
			httpserve.WriteError(w, http.StatusBadRequest, fmt.Sprintf("a batch holds at most %d subrequests, this one %d: split it", maxBatch, len(subs)))
			return
		}
		reqs := make([]*http.Request, len(subs))
		for i, sr := range subs {
			in, err := parseSub(r, sr)
			if err != nil {
				httpserve.WriteError(w, http.StatusBadRequest, fmt.Sprintf("subrequest %d: %v", i, err))
				return
			}
			reqs[i] = in
		}
		out := []SubResponse{}
		total := 0
		for _, in := range reqs {
			if total > maxBatchAnswer {
				body, _ := json.Marshal(map[string]string{"error": "the batch's answers passed 20 MB: ask for the rest in another request"})
				out = append(out, SubResponse{Code: http.StatusRequestEntityTooLarge, Headers: map[string]string{"content-type": "application/json"}, Body: body})
				if sequential {
					break
				}
				continue
			}
			rec := httptest.NewRecorder()
			s.mux.ServeHTTP(rec, in)
			sr := SubResponse{Code: rec.Code, Headers: map[string]string{}}
			for k, v := range rec.Header() {
				if lk := strings.ToLower(k); lk != "content-length" && len(v) > 0 {
					sr.Headers[lk] = v[0]
				}
			}
			body := rec.Body.Bytes()
			total += len(body)
			mt, _, _ := mime.ParseMediaType(sr.Headers["content-type"])
			if mt == "application/json" && json.Valid(body) {
				sr.Body = bytes.TrimSpace(body)
			} else {
				sr.Body, _ = json.Marshal(base64.StdEncoding.EncodeToString(body))
			}
			if len(body) == 0 && mt != "application/json" {
				sr.Body = json.RawMessage(`""`)
			}
			out = append(out, sr)
			if sequential && (sr.Code < 200 || sr.Code >= 300) {
				break
			}
		}
		httpserve.WriteJSON(w, http.StatusOK, out)
	}
}
