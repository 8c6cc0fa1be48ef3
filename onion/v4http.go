package onion

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// Server names a server that onion requests reach through an exit node,
// sealed to its key (the file and community servers).
type Server struct {
	URL    string   // e.g. http://127.0.0.1:41234
	X25519 [32]byte // the key requests are sealed to
}

// innerRequest builds the request a v4 request names, refusing (never
// panicking on) a method or endpoint that is not well formed: a method must
// be an HTTP token, an endpoint an absolute path with an optional query,
// and headers valid names and values.
func innerRequest(outer *http.Request, req *V4Request, body []byte) (*http.Request, error) {
	if req.Method == "" || len(req.Method) > 16 || strings.IndexFunc(req.Method, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return nil, errors.New("method: want an upper-case HTTP method")
	}
	if len(req.Endpoint) == 0 || req.Endpoint[0] != '/' || strings.HasPrefix(req.Endpoint, "//") || len(req.Endpoint) > 4096 ||
		strings.IndexFunc(req.Endpoint, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, errors.New("endpoint: want an absolute path")
	}
	u, err := url.ParseRequestURI(req.Endpoint)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return nil, errors.New("endpoint: want an absolute path")
	}
	in, err := http.NewRequestWithContext(outer.Context(), req.Method, "http://server"+req.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("request: malformed")
	}
	in.RequestURI = req.Endpoint
	in.RemoteAddr = outer.RemoteAddr
	for k, v := range req.Headers {
		if !validHeader(k, v) {
			return nil, errors.New("headers: malformed")
		}
		in.Header.Set(k, v)
	}
	return in, nil
}

func validHeader(k, v string) bool {
	if k == "" || len(k) > 256 || len(v) > 8192 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// V4Handler serves the onion endpoint of a server (POST /oxen/v4/lsrpc):
// it opens the v4 request sealed to key, runs it against inner with the
// request's method, endpoint, headers and body, and seals inner's answer as
// a v4 reply with the same key.
func V4Handler(inner http.Handler, key KeyPair) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxLayerSize))
		if err != nil {
			http.Error(w, "onion request too large", http.StatusRequestEntityTooLarge)
			return
		}
		plain, seal, err := OpenForServer(body, key)
		if err != nil {
			http.Error(w, "cannot decrypt the request", http.StatusBadRequest)
			return
		}
		meta, reqBody, err := DecodeV4(plain)
		var req V4Request
		if err == nil {
			err = json.Unmarshal(meta, &req)
		}
		code, respBody := http.StatusBadRequest, []byte(`{"error":"want a v4 request: l<len>:{method, endpoint, headers}[<len>:<body>]e"}`)
		headers := map[string]string{"content-type": "application/json"}
		var in *http.Request
		if err == nil {
			in, err = innerRequest(r, &req, reqBody)
		}
		if err == nil {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, in)
			code, respBody = rec.Code, rec.Body.Bytes()
			// The answer's headers, lower-case, as pysogs's v4 replies
			// carry them (a download's content-disposition among them).
			headers = map[string]string{"content-type": rec.Header().Get("Content-Type")}
			for k, v := range rec.Header() {
				if lk := strings.ToLower(k); lk != "content-length" && len(v) > 0 {
					headers[lk] = v[0]
				}
			}
		}
		head, _ := json.Marshal(V4Response{Code: code, Headers: headers})
		ct, err := seal(rand.Reader, EncodeV4Request(head, respBody))
		if err != nil {
			http.Error(w, "cannot seal the reply", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(ct)
	}
}
