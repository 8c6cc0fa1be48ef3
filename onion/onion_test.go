package onion

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
)

type testNode struct {
	kp  KeyPair
	hop Hop
}

func newNode(t testing.TB, i int) testNode {
	kp, err := NewKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testNode{kp: kp, hop: Hop{Ed25519: fmt.Sprintf("%064x", i+1), X25519: kp.Public}}
}

// route peels req along the nodes as they would, following destinations,
// and returns the destination's node index and what it received.
func route(t *testing.T, nodes map[string]testNode, first string, req []byte) (string, *Peeled, int) {
	t.Helper()
	at := first
	for hops := 1; ; hops++ {
		p, err := Peel(req, nodes[at].kp)
		if err != nil {
			t.Fatalf("hop %d (%s): %v", hops, at[:4], err)
		}
		if p.Routing.IsDestination() || p.Routing.IsHTTP() {
			return at, p, hops
		}
		if req, err = p.Next(); err != nil {
			t.Fatal(err)
		}
		at = p.Routing.Destination
	}
}

func TestBuildAndPeel(t *testing.T) {
	for _, enc := range []EncType{XChaCha20, AESGCM} {
		nodes := map[string]testNode{}
		var path []Hop
		for i := 0; i < 4; i++ {
			n := newNode(t, i)
			nodes[n.hop.Ed25519] = n
			if i < 3 {
				path = append(path, n.hop)
			}
		}
		dest := nodes[fmt.Sprintf("%064x", 4)]
		payload := []byte(`{"method":"info","params":{}}`)
		req, key, err := Build(rand.Reader, path, dest.hop, payload, enc)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(req, payload) || bytes.Contains(req, []byte(dest.hop.Ed25519)) {
			t.Fatalf("%s: the request shows the payload or the destination in clear", enc)
		}
		at, p, hops := route(t, nodes, path[0].Ed25519, req)
		if at != dest.hop.Ed25519 || hops != 4 || !bytes.Equal(p.Body, payload) {
			t.Fatalf("%s: ended at %s after %d hops with %q", enc, at[:4], hops, p.Body)
		}
		ct, err := p.SealReply(rand.Reader, []byte("pong"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := key.OpenReply(ct)
		if err != nil || string(got) != "pong" {
			t.Fatalf("%s: reply %q, %v", enc, got, err)
		}
		// Another layer key cannot open the reply.
		_, other, _ := Build(rand.Reader, path, dest.hop, payload, enc)
		if _, err := other.OpenReply(ct); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%s: a foreign key opened the reply: %v", enc, err)
		}
	}
}

func TestBuildHTTP(t *testing.T) {
	nodes := map[string]testNode{}
	var path []Hop
	for i := 0; i < 3; i++ {
		n := newNode(t, i)
		nodes[n.hop.Ed25519] = n
		path = append(path, n.hop)
	}
	server, _ := NewKeyPair(rand.Reader)
	req, rk, err := BuildHTTP(rand.Reader, path, Routing{Host: "127.0.0.1", Port: 8080, Protocol: "http", Target: "/oxen/v4/lsrpc", Method: "POST"}, server.Public, []byte("a v4 request"), XChaCha20)
	if err != nil {
		t.Fatal(err)
	}
	at, p, hops := route(t, nodes, path[0].Ed25519, req)
	if at != path[2].Ed25519 || hops != 3 || p.Routing.Target != "/oxen/v4/lsrpc" {
		t.Fatalf("HTTP request ended at %s after %d hops: %+v", at[:4], hops, p.Routing)
	}
	// The exit holds [N][ciphertext for the server][JSON] with the host
	// fields and the server's ephemeral key side by side, no layer nested,
	// and posts all of it.
	body, r, err := DecodeLayer(p.Layer)
	if err != nil || !bytes.Equal(body, p.Body) {
		t.Fatalf("the exit's layer: %v", err)
	}
	var js map[string]any
	json.Unmarshal(p.Layer[4+len(body):], &js)
	for _, k := range []string{"host", "target", "method", "protocol", "port", "ephemeral_key", "enc_type"} {
		if _, ok := js[k]; !ok {
			t.Errorf("the exit's JSON lacks %q: %v", k, js)
		}
	}
	if r.EncType != XChaCha20 {
		t.Fatalf("enc_type %q", r.EncType)
	}
	plain, seal, err := OpenForServer(p.Layer, server)
	if err != nil || string(plain) != "a v4 request" {
		t.Fatalf("the server opens %q, %v", plain, err)
	}
	ct, _ := seal(rand.Reader, []byte("an answer"))
	if got, err := rk.OpenReply(ct); err != nil || string(got) != "an answer" {
		t.Fatalf("the reply: %q %v", got, err)
	}
}

func TestPeelRefuses(t *testing.T) {
	a, b := newNode(t, 0), newNode(t, 1)
	req, _, err := Build(rand.Reader, nil, a.hop, []byte("x"), XChaCha20)
	if err != nil {
		t.Fatal(err)
	}
	truncated := append([]byte(nil), req...)
	binary.LittleEndian.PutUint32(truncated, uint32(len(req)))
	flipped := append([]byte(nil), req...)
	flipped[10] ^= 1
	for name, tc := range map[string]struct {
		data []byte
		kp   KeyPair
		want error
	}{
		"wrong key":          {req, b.kp, ErrDecrypt},
		"flipped ciphertext": {flipped, a.kp, ErrDecrypt},
		"length past end":    {truncated, a.kp, ErrFormat},
		"short":              {req[:3], a.kp, ErrFormat},
		"no json":            {req[:len(req)-5], a.kp, ErrFormat},
		"routing in clear":   {mustLayer(t, []byte("x"), Routing{Destination: a.hop.Ed25519}), a.kp, ErrFormat},
		"bad ephemeral key":  {mustLayer(t, []byte("x"), Routing{EphemeralKey: "zz", EncType: XChaCha20}), a.kp, ErrFormat},
		"bad enc type":       {mustLayer(t, make([]byte, 64), Routing{EphemeralKey: hex.EncodeToString(a.kp.Public[:]), EncType: "rot13"}), a.kp, ErrFormat},
		"oversized":          {make([]byte, MaxLayerSize+1), a.kp, ErrFormat},
	} {
		if _, err := Peel(tc.data, tc.kp); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	if _, _, err := Build(rand.Reader, make([]Hop, MaxHops), a.hop, nil, XChaCha20); err == nil {
		t.Error("a path of more than 15 hops was built")
	}
}

func mustLayer(t *testing.T, body []byte, r Routing) []byte {
	t.Helper()
	b, err := EncodeLayer(body, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestV4(t *testing.T) {
	req := EncodeV4Request([]byte(`{"method":"GET","endpoint":"/capabilities"}`), nil)
	if string(req) != `l43:{"method":"GET","endpoint":"/capabilities"}e` {
		t.Fatalf("v4 request %q", req)
	}
	a, b, err := DecodeV4(EncodeV4Request([]byte(`{"code":200}`), []byte("body")))
	if err != nil || string(a) != `{"code":200}` || string(b) != "body" {
		t.Fatalf("decode: %q %q %v", a, b, err)
	}
	for _, bad := range []string{"", "l", "le", "x1:ae", "l9:ae", "l1:a1:b1:ce", "l-1:e", "l1:a"} {
		if _, _, err := DecodeV4([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func FuzzPeel(f *testing.F) {
	a := newNode(f, 0)
	req, _, _ := Build(rand.Reader, []Hop{a.hop}, a.hop, []byte("payload"), XChaCha20)
	f.Add(req)
	req2, _, _ := Build(rand.Reader, nil, a.hop, []byte("payload"), AESGCM)
	f.Add(req2)
	f.Add([]byte{1, 0, 0, 0, 'x', '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Peel(data, a.kp)
		if err != nil {
			return
		}
		if p.Routing.Destination != "" {
			body := bytes.Clone(p.Body)
			next, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			// Written over the layer: the body as it was, the routing the next hop's.
			nb, nr, err := DecodeLayer(next)
			if err != nil || !bytes.Equal(nb, body) || !bytes.Equal(p.Body, body) ||
				!reflect.DeepEqual(nr, Routing{EphemeralKey: p.Routing.EphemeralKey, EncType: p.Routing.EncType}) {
				t.Fatalf("next layer %q %+v (%v), want the body %q and the key", nb, nr, err, body)
			}
		}
	})
}

func FuzzDecodeLayer(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 'a', 'b', 'c', '{', '}'})
	f.Add([]byte{0, 0, 0, 0, '{', '"', 'h', 'e', 'a', 'd', 'e', 'r', 's', '"', ':', '"', '"', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		body, r, err := DecodeLayer(data)
		if err != nil {
			return
		}
		again, err := EncodeLayer(body, r)
		if err != nil {
			t.Fatal(err)
		}
		body2, r2, err := DecodeLayer(again)
		j1, _ := json.Marshal(r)
		j2, _ := json.Marshal(r2)
		if err != nil || !bytes.Equal(body, body2) || !bytes.Equal(j1, j2) {
			t.Fatalf("re-encoding changed the layer")
		}
	})
}

// FuzzRoutingFast: the routing JSON written and read by hand (routing.go)
// is what json.Marshal writes, and what the strict decoder reads, with the
// same result.
func FuzzRoutingFast(f *testing.F) {
	key := strings.Repeat("ab", 32)
	f.Add([]byte(`{"ephemeral_key":"`+key+`","enc_type":"xchacha20"}`), key, "xchacha20", key, "", false, int8(-1), int8(-1))
	f.Add([]byte(`{"ephemeral_key":"`+key+`","enc_type":"aes-gcm","destination":"`+key+`"}`), "", "aes-gcm", "<&>", "", true, int8(1), int8(0))
	f.Add([]byte(`{"ephemeral_key":"a","enc_type":"","destination":"\u0041"}`), `\`, `"`, "\xff", "h", true, int8(0), int8(1))
	f.Add([]byte(`{"ephemeral_key":"a","enc_type":"b"} `), `a"b`, "\x00", "", "\x00", true, int8(-1), int8(1))
	f.Add([]byte(`{"headers":"","json":true,"base64":false}`), "", "", "", "", true, int8(1), int8(0))
	f.Add([]byte(`{"headers":"x","base64":true}`), "", "", "", "x", true, int8(-1), int8(1))
	f.Add([]byte(`{"json":false,"json":true}`), "", "", "", "", false, int8(0), int8(-1))
	f.Add([]byte(`{}`), "", "", "", "", false, int8(-1), int8(-1))
	flag := func(v int8) *bool {
		if v < 0 {
			return nil
		}
		b := v > 0
		return &b
	}
	f.Fuzz(func(t *testing.T, js []byte, eph, enc, dest, headers string, hasHeaders bool, jsonFlag, b64Flag int8) {
		if fast, ok := parseRouting(js); ok {
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			var slow Routing
			if err := dec.Decode(&slow); err != nil || dec.More() {
				t.Fatalf("read by hand as %+v, refused by the decoder: %v", fast, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("read by hand as %+v, by the decoder as %+v", fast, slow)
			}
		}
		r := Routing{EphemeralKey: eph, EncType: EncType(enc), Destination: dest, JSON: flag(jsonFlag), Base64: flag(b64Flag)}
		if hasHeaders {
			r.Headers = &headers
		}
		got, err := appendRouting(nil, r)
		want, werr := json.Marshal(r)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("%+v written as %s (%v), json.Marshal writes %s (%v)", r, got, err, want, werr)
		}
		if back, ok := parseRouting(got); ok && !reflect.DeepEqual(back, r) {
			t.Fatalf("%+v written and read back as %+v", r, back)
		}
		// A hop's routing, its key's hex written in place.
		var k [32]byte
		copy(k[:], eph)
		hop := Routing{EphemeralKey: hex.EncodeToString(k[:]), EncType: EncType(enc), Destination: dest}
		got, err = appendHopRouting([]byte("x"), k, hop.EncType, dest)
		want, werr = json.Marshal(hop)
		if err != nil || werr != nil || !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("%+v written as %s (%v), json.Marshal writes %s (%v)", hop, got, err, want, werr)
		}
	})
}

// FuzzOuterLayer: a node's layer read by hand (outerLayer) is what
// DecodeLayer and the checks Peel made of it read, with the same refusals.
func FuzzOuterLayer(f *testing.F) {
	key := strings.Repeat("ab", 32)
	for _, js := range []string{
		`{"ephemeral_key":"` + key + `","enc_type":"xchacha20"}`,
		`{"ephemeral_key":"` + strings.ToUpper(key) + `","enc_type":"aes-gcm"}`,
		`{"ephemeral_key":"` + key + `"}`,
		`{"ephemeral_key":"` + key + `","destination":""}`,
		`{"ephemeral_key":"` + key + `","destination":"` + key + `"}`,
		`{"ephemeral_key":"` + key[:62] + `zz","enc_type":"xchacha20"}`,
		`{"ephemeral_key":"` + key + key + `","enc_type":"xchacha20"}`,
		`{"ephemeral_key":"` + key + `","headers":""}`,
		`{"ephemeral_key":"` + key + `","host":"h"}`,
		`{"enc_type":"xchacha20","ephemeral_key":"` + key + `"}`,
	} {
		f.Add(append([]byte{2, 0, 0, 0, 'c', 't'}, js...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, eph, typ, err := outerLayer(data)
		// What Peel did before outerLayer.
		wct, r, werr := DecodeLayer(data)
		if werr == nil && (r.Destination != "" || r.Headers != nil || r.Host != "") {
			werr = ErrFormat
		}
		var weph []byte
		if werr == nil {
			if weph, werr = hex.DecodeString(r.EphemeralKey); werr == nil && len(weph) != 32 {
				werr = ErrFormat
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("outerLayer: %v; DecodeLayer and Peel's checks: %v", err, werr)
		}
		if err == nil && (!bytes.Equal(ct, wct) || !bytes.Equal(eph[:], weph) || typ != r.EncType.orDefault()) {
			t.Fatalf("outerLayer read %x %x %q, DecodeLayer %x %x %q", ct, eph, typ, wct, weph, r.EncType.orDefault())
		}
	})
}

func FuzzDecodeV4(f *testing.F) {
	f.Add([]byte(`l3:abc2:dee`))
	f.Fuzz(func(t *testing.T, data []byte) { DecodeV4(data) })
}

// NewKeyPair's fast public key must be the X25519 public key of its private key.
func TestNewKeyPairMatchesX25519(t *testing.T) {
	for i := 0; i < 100; i++ {
		kp, err := NewKeyPair(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := curve25519.X25519(kp.Private[:], curve25519.Basepoint)
		if !bytes.Equal(want, kp.Public[:]) {
			t.Fatalf("public key %x, X25519 gives %x", kp.Public, want)
		}
	}
}

func FuzzOpenForServer(f *testing.F) {
	server, _ := NewKeyPair(rand.Reader)
	req, _, _ := SealForServer(rand.Reader, server.Public, EncodeV4Request([]byte(`{"method":"GET","endpoint":"/file/1"}`), nil), XChaCha20)
	f.Add(req)
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, seal, err := OpenForServer(data, server)
		if err != nil {
			return
		}
		DecodeV4(plain)
		if _, err := seal(rand.Reader, []byte("reply")); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzInnerRequest: whatever method, endpoint and headers a v4 request
// names, building the server's request refuses or succeeds, never panics.
func FuzzInnerRequest(f *testing.F) {
	f.Add("GET", "/room/lobby", "X-SOGS-Pubkey", "00")
	f.Add("G ET", "http://x/", "Bad Header", "v\n")
	f.Add("POST", "/%zz", "", "")
	f.Add("", "//evil", "k", "v")
	f.Fuzz(func(t *testing.T, method, endpoint, hk, hv string) {
		outer := httptest.NewRequest("POST", "/oxen/v4/lsrpc", nil)
		req := &V4Request{Method: method, Endpoint: endpoint, Headers: map[string]string{hk: hv}}
		in, err := innerRequest(outer, req, nil)
		if err == nil && (in.Method != method || in.URL.Host != "server") {
			t.Fatalf("built %s %s from %q %q", in.Method, in.URL, method, endpoint)
		}
	})
}

// TestV4HandlerRefusesMalformed: a malformed method or endpoint through the
// onion path is a 400, not a panic.
func TestV4HandlerRefusesMalformed(t *testing.T) {
	key, _ := NewKeyPair(rand.Reader)
	h := V4Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }), key)
	for _, tc := range []struct {
		method, endpoint string
		want             int
	}{{"GET", "/ok", 200}, {"G ET", "/x", 400}, {"GET", "http://x/y", 400}, {"GET", "/a b", 400}, {"get", "/x", 400}, {"GET", "//host/x", 400}} {
		meta, _ := json.Marshal(V4Request{Method: tc.method, Endpoint: tc.endpoint})
		payload, rk, err := SealForServer(rand.Reader, key.Public, EncodeV4Request(meta, nil), XChaCha20)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest("POST", "/oxen/v4/lsrpc", bytes.NewReader(payload)))
		plain, err := rk.OpenReply(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("%s %s: reply: %v (%d %s)", tc.method, tc.endpoint, err, rec.Code, rec.Body)
		}
		head, _, err := DecodeV4(plain)
		var resp V4Response
		if err != nil || json.Unmarshal(head, &resp) != nil || resp.Code != tc.want {
			t.Errorf("%s %q: %s, want %d", tc.method, tc.endpoint, head, tc.want)
		}
	}
}
