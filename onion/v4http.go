package onion

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
)

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
		code, respBody, ctype := http.StatusBadRequest, []byte(`{"error":"want a v4 request: l<len>:{method, endpoint, headers}[<len>:<body>]e"}`), "application/json"
		if err == nil && req.Method != "" && len(req.Endpoint) > 0 && req.Endpoint[0] == '/' {
			in := httptest.NewRequestWithContext(r.Context(), req.Method, req.Endpoint, bytes.NewReader(reqBody))
			for k, v := range req.Headers {
				in.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, in)
			code, respBody, ctype = rec.Code, rec.Body.Bytes(), rec.Header().Get("Content-Type")
		}
		head, _ := json.Marshal(V4Response{Code: code, Headers: map[string]string{"content-type": ctype}})
		ct, err := seal(rand.Reader, EncodeV4Request(head, respBody))
		if err != nil {
			http.Error(w, "cannot seal the reply", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(ct)
	}
}
