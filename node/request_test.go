package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/storagerpc"
)

// TestDecodeRequest: the one envelope decoder reads what the storage
// server reads, with its messages.
func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		body, method, params string
		err                  string
	}{
		{body: `{"method":"info","params":{}}`, method: "info", params: `{}`},
		{body: `{"jsonrpc":"2.0","id":7,"method":"retrieve","params":{"pubkey":"05"}}`, method: "retrieve", params: `{"pubkey":"05"}`},
		{body: ` {"params": {"a":1}, "method": "store", "other": [1]} `, method: "store", params: `{"a":1}`},
		{body: `{"method":"","params":{}}`, method: "", params: `{}`}, // "no method " then, as upstream
		{body: `{"method":"a","params":{},"method":"b"}`, method: "b", params: `{}`},
		{body: `{"method":"info","params":{"a":{}} }`, method: "info", params: `{"a":{}}`},
		{body: ``, err: "invalid json"},
		{body: `{`, err: "invalid json"},
		{body: `{"method":"info","params":{}} {}`, err: "invalid json"},
		{body: `[1,2]`, err: "invalid json: no `method` field"},
		{body: `"info"`, err: "invalid json: no `method` field"},
		{body: `{"params":{}}`, err: "invalid json: no `method` field"},
		{body: `{"method":7,"params":{}}`, err: "invalid json: no `method` field"},
		{body: `{"method":null,"params":{}}`, err: "invalid json: no `method` field"},
		{body: `{"Method":"info","params":{}}`, err: "invalid json: no `method` field"}, // keys match exactly
		{body: `{"method":"info"}`, err: "invalid json: no `params` field"},
		{body: `{"method":"info","params":null}`, err: "invalid json: no `params` field"},
		{body: `{"method":"info","params":[]}`, err: "invalid json: no `params` field"},
	} {
		req, e := decodeRequest([]byte(tc.body))
		switch {
		case tc.err != "":
			if e == nil || e.code != storagerpc.StatusBadRequest || e.msg != tc.err {
				t.Errorf("%q: %+v, want 400 %q", tc.body, e, tc.err)
			}
		case e != nil:
			t.Errorf("%q: %+v", tc.body, e)
		case req.Method != tc.method || string(req.Params) != tc.params:
			t.Errorf("%q: method %q params %s", tc.body, req.Method, req.Params)
		}
	}
}

// FuzzPlainRequest: an envelope read by hand (plainRequest) is read by
// encoding/json the same way, as decodeRequest did before it.
func FuzzPlainRequest(f *testing.F) {
	f.Add([]byte(`{"method":"store","params":{"pubkey":"05"}}`))
	f.Add([]byte(`{"method":"a","params":{},"method":"b"}`))
	f.Add([]byte(`{"method":"","params":{ }}`))
	f.Add([]byte(`{"method":"x","params":{"a":}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := plainRequest(body)
		if !ok {
			return
		}
		var env map[string]json.RawMessage
		var method string
		if err := json.Unmarshal(body, &env); err != nil || json.Unmarshal(env["method"], &method) != nil {
			t.Fatalf("%q read by hand, refused by encoding/json: %v", body, err)
		}
		if fast.Method != method || !bytes.Equal(fast.Params, env["params"]) {
			t.Fatalf("%q read by hand as %q %s, by encoding/json as %q %s", body, fast.Method, fast.Params, method, env["params"])
		}
	})
}

// TestOneRequestPath: both transports take a request the same way: one
// decoder (the same envelope accepted, the same refusal), the memory
// budget charged to the same kind of key as the rate limit (a peer, an
// address), and a deadline on the context the handler runs on.
func TestOneRequestPath(t *testing.T) {
	budget := NewBudget(1<<20, 64<<10)
	tn := startTestnet(t, 1, func(c *Config) { c.Budget = budget })
	h := tn.order[0]
	n := tn.nodes[h]
	hc := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	overHTTPS := func(ip, body string) (int, string) {
		t.Helper()
		resp, err := hc(ip).Post(n.HTTPSURL()+"/storage_rpc/v1", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	overP2P := func(body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := storagerpc.RoundTrip(ctx, tn.client, tn.peer(h), storagerpc.ProtocolStorage, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		var msg string
		if json.Unmarshal(resp.Body, &msg) != nil {
			msg = string(resp.Body)
		}
		return resp.Code, msg
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"info","params":{}}`,
		`{"method":"info"}`,
		`{"method":"info","params":{}} trailing`,
		`{"method":"nothing","params":{}}`,
	} {
		c1, m1 := overP2P(body)
		c2, m2 := overHTTPS("127.0.0.1", body)
		if c1 != c2 || c1 != 200 && m1 != m2 {
			t.Errorf("%s: libp2p %d %q, https %d %q", body, c1, m1, c2, m2)
		}
	}

	// The budget is charged to the rate limit's key: with a peer's share
	// held, that peer is refused (503) and another client is not; at the
	// edge, the key is the address.
	info := `{"method":"info","params":{}}`
	held := func(k clientKey) func() {
		if !budget.acquire(k, 64<<10) {
			t.Fatalf("could not hold %v's share", k)
		}
		return func() { budget.release(k, 64<<10) }
	}
	done := held(peerClient(tn.client.ID()))
	if code, _ := overP2P(info); code != storagerpc.StatusUnavailable {
		t.Errorf("libp2p with the peer's share held: %d, want 503", code)
	}
	if code, _ := overHTTPS("127.0.0.1", info); code != 200 {
		t.Errorf("https beside it: %d, want 200", code)
	}
	done()
	done = held(clientKey{addr: "127.0.0.1"})
	if code, _ := overHTTPS("127.0.0.1", info); code != storagerpc.StatusUnavailable {
		t.Errorf("https from 127.0.0.1 with its share held: %d, want 503", code)
	}
	if code, _ := overHTTPS("127.0.0.2", info); code != 200 {
		t.Errorf("https from 127.0.0.2: %d, want 200", code)
	}
	if code, _ := overP2P(info); code != 200 {
		t.Errorf("libp2p beside it: %d, want 200", code)
	}
	done()

	// An edge handler runs with the request's deadline.
	var deadline time.Time
	var from clientKey
	handler := n.edge(1<<10, func(ctx context.Context, w http.ResponseWriter, body []byte, c clientKey) {
		deadline, _ = ctx.Deadline()
		from = c
	})
	before := time.Now()
	r := httptest.NewRequest("POST", "/storage_rpc/v1", strings.NewReader(info))
	r.RemoteAddr = "[::ffff:10.1.2.3]:4000"
	handler(httptest.NewRecorder(), r)
	if deadline.Before(before.Add(requestTimeout)) || deadline.After(time.Now().Add(requestTimeout)) {
		t.Errorf("an edge request's deadline is %v from its arrival, want %v", deadline.Sub(before), requestTimeout)
	}
	if from != (clientKey{addr: "10.1.2.3"}) {
		t.Errorf("an edge request from %q", from)
	}
}

// TestSharedDeadlines: requests that arrive within deadlineGrain of the
// first share its context, those of another margin or later get their
// own; a context no longer shared ends with its last request, the one
// still shared lives on for the next, and each ends at its deadline.
func TestSharedDeadlines(t *testing.T) {
	var ds sharedDeadlines
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	t0 := time.Now()
	a := ds.take(parent, t0, 0)
	b := ds.take(parent, t0.Add(deadlineGrain-time.Millisecond), 0)
	f := ds.take(parent, t0.Add(time.Millisecond), forwardMargin)
	if a != b || a == f {
		t.Fatal("want the requests within the grain to share, those of another margin not")
	}
	if dl, _ := a.ctx.Deadline(); !dl.Equal(t0.Add(requestTimeout)) {
		t.Fatalf("deadline %v, want %v", dl, t0.Add(requestTimeout))
	}
	if dl, _ := f.ctx.Deadline(); !dl.Equal(t0.Add(time.Millisecond + requestTimeout - forwardMargin)) {
		t.Fatalf("deadline with the margin %v, want %v", dl, t0.Add(time.Millisecond+requestTimeout-forwardMargin))
	}
	c := ds.take(parent, t0.Add(deadlineGrain), 0)
	if c == a {
		t.Fatal("a request after the grain shares the old context")
	}
	a.done()
	if a.ctx.Err() != nil {
		t.Fatal("the context ended while a request still runs on it")
	}
	b.done()
	if a.ctx.Err() == nil {
		t.Fatal("the last request done, the context no longer shared still runs")
	}
	c.done()
	if c.ctx.Err() != nil {
		t.Fatal("the context new requests share ended with its one request")
	}
	if d := ds.take(parent, t0.Add(2*deadlineGrain), 0); d == c || c.ctx.Err() == nil {
		t.Fatal("a context with no request left, no longer shared, still runs")
	} else {
		d.done()
	}
	stop()
	if f.ctx.Err() == nil {
		t.Fatal("the parent cancelled, a shared context still runs")
	}
	f.done()
}
