package devnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/edgelog"
)

// edgeLog keeps the lines of a devnet's "edge" log.
type edgeLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *edgeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines are the edge lines so far.
func (l *edgeLog) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m map[string]any
		if s != "" && json.Unmarshal([]byte(s), &m) != nil {
			t.Fatalf("not JSON: %q", s)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

// find waits for an edge line with every field of want.
func (l *edgeLog) find(t *testing.T, want map[string]any) map[string]any {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, m := range l.lines(t) {
			ok := true
			for k, v := range want {
				if fmt.Sprint(m[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if ok {
				return m
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no edge line with %v in:\n%s", want, l.buf.String())
		}
	}
}

// TestProxyNoCodeChange: a client that hard-codes the real network's hosts
// (as session.js's bun-network does) and is given only the devnet's proxy
// finds nodes through "seed1.getsession.org", stores to bob and retrieves
// from him over CONNECT tunnels to the nodes, and uploads and downloads a
// file at "filev2.getsession.org"; a CONNECT outside the devnet is 403. Each
// request is an edge line, and the dashboard's counts follow.
func TestProxyNoCodeChange(t *testing.T) {
	var log edgeLog
	var counts edgeCounts
	nw := StartT(t, Config{Nodes: 9, OnEdge: counts.add, Logs: func(component string) zerolog.Logger {
		if component == "edge" {
			return zerolog.New(&log).With().Str("component", component).Logger()
		}
		return zerolog.Nop()
	}})
	ctx := context.Background()
	pu, err := url.Parse(nw.ProxyURL())
	if err != nil || pu.Host == "" {
		t.Fatalf("proxy URL %q", nw.ProxyURL())
	}
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	edge := newEdgeClientWith(t, "http://seed1.getsession.org", hc)
	bobK := ClientKeys("proxy", "bob")
	bob := clientT(t, nw.LedgerURL(), client.Config{Keys: bobK})

	// edge → bob, stored over CONNECT tunnels to bob's swarm.
	data := edge.seal(bobK.AccountID(), "through the proxy", time.Now().UnixMilli())
	for _, n := range edge.swarm(bobK.AccountID().String()) {
		var res map[string]any
		edge.storage(n, "store", map[string]any{"pubkey": bobK.AccountID().String(), "timestamp": time.Now().UnixMilli(),
			"ttl": 3_600_000, "data": data}, &res)
	}
	msgs, _, err := bob.Fetch(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "through the proxy" {
		t.Fatalf("bob fetched %+v, %v", msgs, err)
	}
	// bob → edge, retrieved by an onion request entering through a tunnel.
	if _, err := bob.Send(ctx, edge.keys.AccountID(), "back through the proxy"); err != nil {
		t.Fatal(err)
	}
	if got := edge.onionRetrieve(ctx); len(got) != 1 {
		t.Fatalf("retrieved %d messages", len(got))
	} else if text, _ := edge.open(got[0]); text != "back through the proxy" {
		t.Fatalf("read %q", text)
	}

	// The file server, by its real name, in plain HTTP (as bun-network
	// uploads and downloads).
	blob := bytes.Repeat([]byte("attachment "), 100)
	resp, err := hc.Post("http://filev2.getsession.org/file", "application/octet-stream", bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != 200 || up.ID == "" {
		t.Fatalf("upload through the proxy: %d %+v", resp.StatusCode, up)
	}
	resp, err = hc.Get("http://filev2.getsession.org/file/" + up.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Fatalf("download through the proxy: %d, %d bytes", resp.StatusCode, len(got))
	}

	// Outside the devnet: refused, with a reason.
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	refused, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	why, _ := io.ReadAll(refused.Body)
	conn.Close()
	if refused.StatusCode != 403 || !strings.Contains(string(why), "reaches only the devnet") {
		t.Fatalf("CONNECT example.com:443: %d %s", refused.StatusCode, why)
	}

	// What a developer reads in 'sessionctl logs edge'.
	tr.CloseIdleConnections() // the tunnels end: their lines are written
	log.find(t, map[string]any{"endpoint": "json_rpc/get_n_service_nodes", "status": 200})
	store := log.find(t, map[string]any{"endpoint": "storage_rpc/store", "namespace": "0", "status": 200})
	if n, _ := store["node"].(string); !strings.HasPrefix(n, "node-") {
		t.Errorf("a node's line does not name it: %v", store)
	}
	log.find(t, map[string]any{"endpoint": "storage_rpc/get_swarm", "status": 200})
	log.find(t, map[string]any{"endpoint": "onion_req", "status": 200})
	log.find(t, map[string]any{"endpoint": "proxy POST", "path": "http://filev2.getsession.org/file", "status": 200})
	log.find(t, map[string]any{"endpoint": "proxy CONNECT", "status": 403, "path": "example.com:443"})
	tunnel := log.find(t, map[string]any{"endpoint": "proxy CONNECT", "status": 200})
	if b, _ := tunnel["bytes"].(float64); b <= 0 {
		t.Errorf("a tunnel's line carries no byte count: %v", tunnel)
	}
	byEndpoint := map[string]uint64{}
	for _, c := range counts.list() {
		byEndpoint[c.Endpoint] = c.Count
	}
	if byEndpoint["storage_rpc/store"] < 1 || byEndpoint["json_rpc/get_n_service_nodes"] != 1 || byEndpoint["proxy CONNECT"] < 2 {
		t.Errorf("counts by endpoint: %v", byEndpoint)
	}
}

// TestEdgeCountsBound: the dashboard counts at most maxEdgeEndpoints
// endpoints, whatever names clients send.
func TestEdgeCountsBound(t *testing.T) {
	var c edgeCounts
	for i := 0; i < 1000; i++ {
		c.add(edgelog.Entry{Endpoint: fmt.Sprintf("json_rpc/m%d", i)})
	}
	c.add(edgelog.Entry{Endpoint: "json_rpc/m0"})
	l := c.list()
	if len(l) != maxEdgeEndpoints {
		t.Fatalf("%d endpoints counted", len(l))
	}
	byEndpoint := map[string]uint64{}
	for _, e := range l {
		byEndpoint[e.Endpoint] = e.Count
	}
	if byEndpoint["json_rpc/m0"] != 2 || byEndpoint["other"] != 1000-(maxEdgeEndpoints-1) {
		t.Fatalf("counts %v", byEndpoint)
	}
}
