package node

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The answers of session-storage-server (oxenss/rpc/request_handler.cpp,
// client_rpc_endpoints.cpp), field by field: what each method answers, with
// the JSON types real clients decode, and the status codes they react to.
// Each case runs over libp2p and over the HTTPS edge: one handler answers
// both, so both must give the same code and the same fields.

// fieldKind is a JSON type a field must have ("absent": the field must
// not be there).
type fieldKind string

const (
	kString fieldKind = "string"
	kInt    fieldKind = "int"
	kBool   fieldKind = "bool"
	kArray  fieldKind = "array"
	kObject fieldKind = "object"
	kAbsent fieldKind = "absent"
)

// checkFields checks each path of spec in body: "a.b" walks objects,
// "a[0]" takes an array's first element, "a.*" every value of an object.
func checkFields(t *testing.T, what string, body []byte, spec map[string]fieldKind) {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: the answer is not JSON: %q", what, truncate(string(body), 200))
		return
	}
	for _, path := range slices.Sorted(maps.Keys(spec)) {
		want := spec[path]
		vals := walk([]any{v}, strings.Split(path, "."))
		if want == kAbsent {
			if len(vals) != 0 {
				t.Errorf("%s: %s is there (%v), the storage server does not send it", what, path, vals[0])
			}
			continue
		}
		if len(vals) == 0 {
			t.Errorf("%s: no %s in %s", what, path, truncate(string(body), 300))
			continue
		}
		for _, x := range vals {
			if got := kindOf(x); got != want {
				t.Errorf("%s: %s is %s (%v), want %s", what, path, got, x, want)
			}
		}
	}
}

func walk(cur []any, parts []string) []any {
	if len(parts) == 0 {
		return cur
	}
	name, first := strings.CutSuffix(parts[0], "[0]")
	var next []any
	for _, c := range cur {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var vals []any
		if name == "*" {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				vals = append(vals, m[k])
			}
		} else if x, ok := m[name]; ok {
			vals = []any{x}
		}
		for _, x := range vals {
			if first {
				a, ok := x.([]any)
				if !ok || len(a) == 0 {
					continue
				}
				x = a[0]
			}
			next = append(next, x)
		}
	}
	return walk(next, parts[1:])
}

func kindOf(x any) fieldKind {
	switch x := x.(type) {
	case string:
		return kString
	case bool:
		return kBool
	case []any:
		return kArray
	case map[string]any:
		return kObject
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return kInt
		}
		return "float"
	}
	return "null"
}

// misc are the fields most answers carry at the top (add_misc_response_fields).
var misc = map[string]fieldKind{"t": kInt, "hf": kArray}

func with(a, b map[string]fieldKind) map[string]fieldKind {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// edgeTransport speaks to the nodes of a testnet over libp2p or HTTPS;
// its answer is the status and the body as the transport gives it.
type edgeTransport struct {
	name string
	call func(t *testing.T, h, method string, params any) (int, []byte)
}

func transports(tn *testnet) []edgeTransport {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	tn.t.Cleanup(hc.CloseIdleConnections)
	return []edgeTransport{
		{"libp2p", func(t *testing.T, h, method string, params any) (int, []byte) {
			t.Helper()
			resp := tn.call(h, method, params)
			return resp.Code, resp.Body
		}},
		{"https", func(t *testing.T, h, method string, params any) (int, []byte) {
			t.Helper()
			raw, _ := json.Marshal(params)
			body, _ := json.Marshal(storagerpc.Request{Method: method, Params: raw})
			resp, err := hc.Post(tn.nodes[h].HTTPSURL()+"/storage_rpc/v1", "application/json", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				b, _ = json.Marshal(string(b)) // an error's text, as libp2p carries it
			}
			return resp.StatusCode, b
		}},
	}
}

// uniqueTS gives increasing unix milliseconds from now on: two requests
// signed over a timestamp never share a signature.
type uniqueTS struct {
	mu   sync.Mutex
	last int64
}

func (u *uniqueTS) next() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.last = max(u.last+1, time.Now().UnixMilli())
	return u.last
}

// TestAnswersMatchStorageServer: every method's answer, over libp2p and
// HTTPS, has the fields and types of the storage server's, and the status
// codes clients react to are the storage server's.
func TestAnswersMatchStorageServer(t *testing.T) {
	tn := startTestnet(t, 14, nil)
	alice := newAccount(t)
	h := tn.swarmOf(alice.id)[0]
	other := tn.notIn(tn.swarmOf(alice.id))
	gid, gkey := groupAccount(t)
	gh := tn.swarmOf(gid)[0]
	var u uniqueTS
	sign := func(msg []byte) storagerpc.Auth { return storagerpc.SignAuth(alice.keys.Ed25519, alice.id, msg) }
	stored := func(text string) string {
		t.Helper()
		var res storagerpc.SwarmResults
		if err := tn.call(h, "store", alice.store(0, []byte(text), false)).Decode(&res); err != nil {
			t.Fatal(err)
		}
		return res.Hash
	}
	first := stored("the first message")
	retrieveAt := func(ts int64) storagerpc.RetrieveParams {
		return storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts, Auth: sign(storagerpc.RetrieveSigMsg(0, ts))}
	}
	storeAt := func(ns storagerpc.Namespace, ttl, ts int64) storagerpc.StoreParams {
		p := alice.store(ns, []byte(fmt.Sprint("at ", ts, ttl)), ns%10 != 0)
		p.Timestamp, p.TTL = ts, ttl
		if ns%10 != 0 {
			p.Auth = sign(storagerpc.StoreSigMsg(ns, ts))
		}
		return p
	}
	token := storagerpc.NewToken(byte(identity.PrefixGroup), storagerpc.FlagRead, make(ed25519.PublicKey, 32))
	revocation := func(method string) func() any {
		return func() any {
			ts := u.next()
			p := storagerpc.RevokeParams{Pubkey: gid.String(), Timestamp: ts,
				Auth: storagerpc.Auth{Signature: storagerpc.Sign(gkey, storagerpc.RevokeSigMsg(method, ts, []storagerpc.Token{token}))}}
			if method == "revoke_subaccount" {
				p.Revoke = []string{token.String()}
			} else {
				p.Unrevoke = []string{token.String()}
			}
			return p
		}
	}
	swarmOf := map[string]fieldKind{"swarm": kString, "snodes": kArray}
	for k, v := range map[string]fieldKind{"address": kString, "ip": kString, "port": kString, "port_https": kInt,
		"port_omq": kInt, "port_quic": kInt, "pubkey_ed25519": kString, "pubkey_x25519": kString, "pubkey_legacy": kString} {
		swarmOf["snodes[0]."+k] = v
	}
	hour := time.Hour.Milliseconds()

	for _, tc := range []struct {
		name   string
		node   string
		method string
		params func() any
		code   int
		fields map[string]fieldKind
	}{
		{"info", h, "info", func() any { return struct{}{} }, 200,
			with(misc, map[string]fieldKind{"version": kArray, "timestamp": kInt})},
		{"get_swarm", other, "get_swarm", func() any { return storagerpc.GetSwarmParams{Pubkey: alice.id.String()} }, 200,
			with(misc, swarmOf)},
		{"store", h, "store", func() any { return alice.store(0, []byte(fmt.Sprint("store ", u.next())), false) }, 200,
			with(misc, map[string]fieldKind{"hash": kString, "swarm.*.hash": kString, "swarm.*.signature": kString, "swarm.*.expiry": kInt})},
		{"store to another swarm: 421 with the right one", other, "store", func() any { return alice.store(0, []byte("elsewhere"), false) }, 421,
			with(misc, swarmOf)},
		{"store, ttl under 10 s", h, "store", func() any { return storeAt(0, 9_999, u.next()) }, 403, nil},
		{"store, ttl over 14 days in a public namespace", h, "store", func() any { return storeAt(0, storagerpc.MaxTTL.Milliseconds()+1, u.next()) }, 403, nil},
		{"store, ttl of 30 days in a private namespace", h, "store", func() any { return storeAt(1, storagerpc.MaxPrivateTTL.Milliseconds(), u.next()) }, 200, misc},
		{"store, ttl over 30 days in a private namespace", h, "store", func() any { return storeAt(1, storagerpc.MaxPrivateTTL.Milliseconds()+1, u.next()) }, 403, nil},
		{"store, timestamp in the future", h, "store", func() any { return storeAt(0, hour, u.next()+11_000) }, 406, nil},
		{"store, expired over 10 s ago", h, "store", func() any { return storeAt(0, hour, u.next()-hour-11_000) }, 406, nil},
		{"store to namespace 1 unsigned", h, "store", func() any { p := storeAt(1, hour, u.next()); p.Auth = storagerpc.Auth{}; return p }, 401, nil},
		{"store, data over 76,800 bytes", h, "store", func() any {
			return alice.store(0, make([]byte, storagerpc.MaxDataSize+1), false)
		}, 400, nil},
		{"retrieve", h, "retrieve", func() any { return retrieveAt(u.next()) }, 200,
			with(misc, map[string]fieldKind{"messages": kArray, "more": kBool, "messages[0].hash": kString,
				"messages[0].timestamp": kInt, "messages[0].expiration": kInt, "messages[0].data": kString})},
		{"retrieve without a signature", h, "retrieve", func() any { return storagerpc.RetrieveParams{Pubkey: alice.id.String()} }, 401, nil},
		{"retrieve without a signature, with a timestamp", h, "retrieve", func() any {
			return storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: u.next()}
		}, 401, nil},
		{"retrieve, timestamp 61 s old", h, "retrieve", func() any { return retrieveAt(u.next() - 61_000) }, 406, nil},
		{"retrieve of a public outbox, unsigned", h, "retrieve", func() any {
			return storagerpc.RetrieveParams{Pubkey: alice.id.String(), Namespace: -21}
		}, 200, misc},
		{"retrieve, last_hash not a hash", h, "retrieve", func() any { p := retrieveAt(u.next()); p.LastHash = "x"; return p }, 400, nil},
		{"delete", h, "delete", func() any {
			hs := []string{stored(fmt.Sprint("to delete ", u.next()))}
			return storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: hs, Auth: sign(storagerpc.DeleteSigMsg(hs))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.deleted": kArray, "swarm.*.signature": kString})},
		{"delete, required, nothing deleted: 404 with the answer", h, "delete", func() any {
			hs := []string{storagerpc.MessageHash(alice.id, 0, []byte(fmt.Sprint("never stored ", u.next())))}
			return storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: hs, Required: true, Auth: sign(storagerpc.DeleteSigMsg(hs))}
		}, 404, with(misc, map[string]fieldKind{"swarm.*.deleted": kArray})},
		{"delete without a signature", h, "delete", func() any {
			return storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: []string{first}}
		}, 400, nil},
		{"delete_all", h, "delete_all", func() any {
			ns := storagerpc.NamespaceVar{NS: 7}
			ts := u.next()
			return storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Namespace: &ns, Timestamp: ts, Auth: sign(storagerpc.DeleteAllSigMsg(ns, ts))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.deleted": kArray, "swarm.*.signature": kString})},
		{"delete_all, timestamp 61 s old", h, "delete_all", func() any {
			ts := u.next() - 61_000
			return storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Timestamp: ts, Auth: sign(storagerpc.DeleteAllSigMsg(storagerpc.NamespaceVar{}, ts))}
		}, 406, nil},
		{"delete_before", h, "delete_before", func() any {
			before := u.next() - hour
			return storagerpc.DeleteBeforeParams{Pubkey: alice.id.String(), Before: before, Auth: sign(storagerpc.DeleteBeforeSigMsg(storagerpc.NamespaceVar{}, before))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.deleted": kArray, "swarm.*.signature": kString})},
		{"delete_before in the future", h, "delete_before", func() any {
			before := u.next() + 61_000
			return storagerpc.DeleteBeforeParams{Pubkey: alice.id.String(), Before: before, Auth: sign(storagerpc.DeleteBeforeSigMsg(storagerpc.NamespaceVar{}, before))}
		}, 401, nil},
		{"expire", h, "expire", func() any {
			exp := u.next() + hour
			return storagerpc.ExpireParams{Pubkey: alice.id.String(), Messages: []string{first}, Expiry: exp, Auth: sign(storagerpc.ExpireSigMsg(false, false, exp, []string{first}))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.updated": kArray, "swarm.*.expiry": kInt, "swarm.*.signature": kString, "swarm.*.unchanged": kAbsent})},
		{"expire, extend", h, "expire", func() any {
			exp := u.next() + hour/2
			return storagerpc.ExpireParams{Pubkey: alice.id.String(), Messages: []string{first}, Expiry: exp, Extend: true, Auth: sign(storagerpc.ExpireSigMsg(false, true, exp, []string{first}))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.updated": kArray, "swarm.*.unchanged": kObject, "swarm.*.expiry": kInt})},
		{"expire in the past", h, "expire", func() any {
			exp := u.next() - 61_000
			return storagerpc.ExpireParams{Pubkey: alice.id.String(), Messages: []string{first}, Expiry: exp, Auth: sign(storagerpc.ExpireSigMsg(false, false, exp, []string{first}))}
		}, 401, nil},
		{"expire, shorten and extend", h, "expire", func() any {
			exp := u.next() + hour
			return storagerpc.ExpireParams{Pubkey: alice.id.String(), Messages: []string{first}, Expiry: exp, Shorten: true, Extend: true, Auth: sign(storagerpc.ExpireSigMsg(true, false, exp, []string{first}))}
		}, 400, nil},
		{"expire_all", h, "expire_all", func() any {
			exp := u.next() + 2*hour
			return storagerpc.ExpireAllParams{Pubkey: alice.id.String(), Expiry: exp, Auth: sign(storagerpc.ExpireAllSigMsg(storagerpc.NamespaceVar{}, exp))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.updated": kArray, "swarm.*.signature": kString})},
		{"expire_all in the past", h, "expire_all", func() any {
			exp := u.next() - 61_000
			return storagerpc.ExpireAllParams{Pubkey: alice.id.String(), Expiry: exp, Auth: sign(storagerpc.ExpireAllSigMsg(storagerpc.NamespaceVar{}, exp))}
		}, 406, nil},
		{"get_expiries: no t or hf", h, "get_expiries", func() any {
			ts := u.next()
			return storagerpc.GetExpiriesParams{Pubkey: alice.id.String(), Messages: []string{first}, Timestamp: ts, Auth: sign(storagerpc.GetExpiriesSigMsg(ts, []string{first}))}
		}, 200, map[string]fieldKind{"expiries": kObject, "expiries.*": kInt, "t": kAbsent, "hf": kAbsent}},
		{"revoke_subaccount", gh, "revoke_subaccount", revocation("revoke_subaccount"), 200,
			with(misc, map[string]fieldKind{"swarm.*.signature": kString, "swarm.*.count": kAbsent, "swarm.*.updated": kAbsent})},
		{"unrevoke_subaccount", gh, "unrevoke_subaccount", revocation("unrevoke_subaccount"), 200,
			with(misc, map[string]fieldKind{"swarm.*.signature": kString, "swarm.*.count": kInt})},
		{"oxend_request", h, "oxend_request", func() any {
			return map[string]any{"endpoint": "get_service_nodes", "params": map[string]any{"fields": []string{"pubkey_ed25519"}}}
		}, 200, with(misc, map[string]fieldKind{"result": kObject, "result.service_node_states": kArray})},
		{"oxend_request of an endpoint not passed through", h, "oxend_request", func() any { return map[string]any{"endpoint": "get_accounts"} }, 400, nil},
		{"batch: each subrequest's answer, t in its body", h, "batch", func() any {
			return map[string]any{"requests": []any{
				map[string]any{"method": "info", "params": map[string]any{}},
				map[string]any{"method": "get_swarm", "params": map[string]any{"pubkey": alice.id.String()}},
				map[string]any{"method": "retrieve", "params": retrieveAt(u.next())},
			}}
		}, 200, map[string]fieldKind{"results": kArray, "results[0].code": kInt, "results[0].body.t": kInt, "results[0].body.hf": kArray, "t": kAbsent}},
		{"sequence stops at the first failure", h, "sequence", func() any {
			return map[string]any{"requests": []any{
				map[string]any{"method": "retrieve", "params": map[string]any{"pubkey": alice.id.String()}},
				map[string]any{"method": "info", "params": map[string]any{}},
			}}
		}, 200, map[string]fieldKind{"results": kArray, "results[0].code": kInt, "results[0].body": kString}},
		{"delete_all of every namespace", h, "delete_all", func() any {
			ns := storagerpc.NamespaceVar{All: true}
			ts := u.next()
			return storagerpc.DeleteAllParams{Pubkey: alice.id.String(), Namespace: &ns, Timestamp: ts, Auth: sign(storagerpc.DeleteAllSigMsg(ns, ts))}
		}, 200, with(misc, map[string]fieldKind{"swarm.*.deleted": kObject})},
		{"unknown method", h, "frobnicate", func() any { return struct{}{} }, 400, nil},
	} {
		var keys [][]string // each transport's top-level fields
		for _, tr := range transports(tn) {
			code, body := tr.call(t, tc.node, tc.method, tc.params())
			what := tc.name + " over " + tr.name
			var top map[string]json.RawMessage
			json.Unmarshal(body, &top)
			keys = append(keys, slices.Sorted(maps.Keys(top)))
			if code != tc.code {
				t.Errorf("%s: %d %s, want %d", what, code, truncate(string(body), 200), tc.code)
				continue
			}
			if tc.fields != nil {
				checkFields(t, what, body, tc.fields)
			} else if code != 200 {
				var msg string
				if json.Unmarshal(body, &msg) != nil || msg == "" {
					t.Errorf("%s: the refusal %q is not a message", what, truncate(string(body), 200))
				}
			}
		}
		if len(keys) == 2 && !slices.Equal(keys[0], keys[1]) {
			t.Errorf("%s: libp2p answers %v, https %v", tc.name, keys[0], keys[1])
		}
	}

	// get_swarm's snodes, value by value.
	var sw storagerpc.SwarmResult
	if err := tn.call(h, "get_swarm", storagerpc.GetSwarmParams{Pubkey: alice.id.String()}).Decode(&sw); err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatUint(tn.l.SwarmOf(alice.id).ID, 16); sw.Swarm != want {
		t.Errorf("swarm %q, want %q (hex, no leading zeros)", sw.Swarm, want)
	}
	for _, sn := range sw.SNodes {
		key, _ := hex.DecodeString(sn.PubkeyEd25519)
		if sn.PubkeyLegacy != sn.PubkeyEd25519 || sn.Address != storagerpc.SnodeAddress(key) || !strings.HasSuffix(sn.Address, ".snode") ||
			sn.Port != strconv.Itoa(sn.PortHTTPS) || sn.PortOMQ != 0 || sn.IP != "127.0.0.1" ||
			tn.nodes[sn.PubkeyEd25519].HTTPSURL() != fmt.Sprintf("https://%s:%d", sn.IP, sn.PortHTTPS) {
			t.Errorf("snode %+v", sn)
		}
	}
}

// TestReadsServedAgainWritesOnce: an identical signed read (a client's
// retry) is served again, over either transport, as the storage server
// keeps no replay cache; a signed write replayed is refused, so a captured
// delete cannot be played back.
func TestReadsServedAgainWritesOnce(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	alice := newAccount(t)
	ts := nowMS()
	read := storagerpc.RetrieveParams{Pubkey: alice.id.String(), Timestamp: ts,
		Auth: storagerpc.SignAuth(alice.keys.Ed25519, alice.id, storagerpc.RetrieveSigMsg(0, ts))}
	expiries := storagerpc.GetExpiriesParams{Pubkey: alice.id.String(), Messages: []string{"all"}, Timestamp: ts,
		Auth: storagerpc.SignAuth(alice.keys.Ed25519, alice.id, storagerpc.GetExpiriesSigMsg(ts, []string{"all"}))}
	for _, tr := range transports(tn) {
		for i := range 2 {
			if code, body := tr.call(t, h, "retrieve", read); code != 200 {
				t.Errorf("retrieve #%d over %s: %d %s", i+1, tr.name, code, body)
			}
			if code, body := tr.call(t, h, "get_expiries", expiries); code != 200 {
				t.Errorf("get_expiries #%d over %s: %d %s", i+1, tr.name, code, body)
			}
		}
	}
	var hash string
	{
		var res storagerpc.SwarmResults
		if err := tn.call(h, "store", alice.store(0, []byte("keep me"), false)).Decode(&res); err != nil {
			t.Fatal(err)
		}
		hash = res.Hash
	}
	del := storagerpc.DeleteParams{Pubkey: alice.id.String(), Messages: []string{hash},
		Auth: storagerpc.SignAuth(alice.keys.Ed25519, alice.id, storagerpc.DeleteSigMsg([]string{hash}))}
	trs := transports(tn)
	if code, body := trs[1].call(t, h, "delete", del); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	// Stored again, the message is not deleted by the replayed request,
	// over either transport.
	tn.call(h, "store", alice.store(0, []byte("keep me"), false))
	for _, tr := range trs {
		if code, _ := tr.call(t, h, "delete", del); code != 401 {
			t.Errorf("a replayed delete over %s: %d, want 401", tr.name, code)
		}
	}
	if msgs := tn.messages(h, alice, 0); len(msgs) != 1 {
		t.Fatalf("after the replays %d messages, want the one stored again", len(msgs))
	}
}

// TestBatchRefusedWhole: a batch holding an unknown method, a nested batch
// or a malformed subrequest, or more than 20 of them (1,000 here), is
// refused with 400 and none of it runs: nothing is stored.
func TestBatchRefusedWhole(t *testing.T) {
	tn := startTestnet(t, 1, nil)
	h := tn.order[0]
	alice := newAccount(t)
	var u uniqueTS
	// many makes k stores of messages never stored before.
	many := func(k int) []any {
		var out []any
		for range k {
			out = append(out, map[string]any{"method": "store", "params": alice.store(0, []byte(fmt.Sprint("batched ", u.next())), false)})
		}
		return out
	}
	with := func(k int, extra any) func() []any { return func() []any { return append(many(k), extra) } }
	for _, tc := range []struct {
		name     string
		method   string
		requests func() []any
		code     int
		stored   int
	}{
		{"20 stores", "batch", func() []any { return many(20) }, 200, 20},
		{"20 stores in a sequence", "sequence", func() []any { return many(20) }, 200, 20},
		{"21 subrequests", "batch", func() []any { return many(21) }, 400, 0},
		{"1,000 subrequests", "batch", func() []any { return many(1000) }, 400, 0},
		{"1,000 subrequests in a sequence", "sequence", func() []any { return many(1000) }, 400, 0},
		{"an unknown method", "batch", with(3, map[string]any{"method": "frobnicate", "params": map[string]any{}}), 400, 0},
		{"a nested batch", "batch", with(3, map[string]any{"method": "batch", "params": map[string]any{"requests": many(1)}}), 400, 0},
		{"a nested sequence", "sequence", with(3, map[string]any{"method": "sequence", "params": map[string]any{"requests": many(1)}}), 400, 0},
		{"ifelse", "batch", with(3, map[string]any{"method": "ifelse", "params": map[string]any{}}), 400, 0},
		{"a malformed store", "batch", with(3, map[string]any{"method": "store", "params": map[string]any{"pubkey": alice.id.String()}}), 400, 0},
		{"a subrequest without params", "batch", with(3, map[string]any{"method": "info"}), 400, 0},
		{"a subrequest that is not an object", "batch", with(3, "info"), 400, 0},
		{"no subrequests", "batch", func() []any { return []any{} }, 400, 0},
	} {
		for _, tr := range transports(tn) {
			ctx := context.Background()
			before, _ := tn.nodes[h].MessageCount(ctx)
			code, body := tr.call(t, h, tc.method, map[string]any{"requests": tc.requests()})
			after, _ := tn.nodes[h].MessageCount(ctx)
			if code != tc.code || after-before != tc.stored {
				t.Errorf("%s over %s: %d (%s), %d stored; want %d, %d stored", tc.name, tr.name, code, truncate(string(body), 120), after-before, tc.code, tc.stored)
			}
		}
	}
}

// FuzzBatch: a batch of any subrequests never panics, and a batch refused
// whole stores nothing.
func FuzzBatch(f *testing.F) {
	a := newAccount(f)
	var subs []json.RawMessage
	for _, s := range seedRequests(a) {
		subs = append(subs, s)
	}
	good, _ := json.Marshal(map[string]any{"requests": subs[:5]})
	f.Add(good)
	nested, _ := json.Marshal(map[string]any{"requests": []any{subs[2], map[string]any{"method": "batch", "params": map[string]any{"requests": subs[:1]}}}})
	f.Add(nested)
	f.Add([]byte(`{"requests":[{"method":"store","params":{"pubkey":"05"}},{"method":"info","params":{}}]}`))
	f.Add([]byte(`{"requests":[1,"x",null,{}]}`))
	n := fuzzNode(f)
	f.Fuzz(func(t *testing.T, params []byte) {
		ctx := context.Background()
		before, _ := n.MessageCount(ctx)
		for _, m := range []string{"batch", "sequence"} {
			resp := n.dispatch(ctx, m, params, true, true)
			if resp.Code < 200 || resp.Code > 599 || !json.Valid(resp.Body) {
				t.Fatalf("%s: response %d %q", m, resp.Code, resp.Body)
			}
			if after, _ := n.MessageCount(ctx); resp.Code != 200 && after != before {
				t.Fatalf("%s refused (%d %s), yet %d messages were stored", m, resp.Code, resp.Body, after-before)
			}
		}
	})
}
