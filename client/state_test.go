package client

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzLoadState: a client's state file (disk input) that is damaged is an
// error, never a panic; what loads stays within its bounds.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"last_hashes":{"n":{"0":"h"}},"seen":["a","b"],"sent":[{"hash":"h","to":"05ab","sent_at":1,"sync_hash":"s"}],"received":[{"hash":"r","from":"05cd","sent_at":2}]}`))
	f.Add([]byte(`{"sent":null,"received":[{}]}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"peers":{"05ab":{"name":"A","seen":3},"05cd":{"pic_url":"u","seen":1}},"nicknames":{"05ab":"Al"},"own":{"name":"Me"},"files":[{"id":"1","size":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(path)
		if err != nil {
			return
		}
		if len(st.Seen) > maxSeen || len(st.Sent) > maxSent || len(st.Received) > maxSeen || st.LastHashes == nil ||
			len(st.Peers) > maxPeers || len(st.Nicknames) > maxContacts || len(st.Files) > maxFiles {
			t.Fatalf("loaded beyond bounds: %d seen, %d sent, %d received", len(st.Seen), len(st.Sent), len(st.Received))
		}
		if err := st.save(path); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStateBounds: the profiles, nicknames and file sizes a device keeps
// stay within their bounds (the least recently seen profiles go first),
// and a nickname wins over the name a sender gives.
func TestStateBounds(t *testing.T) {
	st := &state{Peers: map[string]peerProfile{}, Nicknames: map[string]string{"05a": "Al"}}
	for i := 0; i < maxPeers+5; i++ {
		st.Peers[fmt.Sprintf("05%d", i)] = peerProfile{Profile: Profile{Name: "n"}, Seen: int64(i)}
	}
	for i := 0; i < maxFiles+5; i++ {
		st.noteFile(Attachment{ID: strconv.Itoa(i + 1), Size: i + 1})
	}
	st.noteFile(Attachment{ID: "0", Size: 5})
	st.noteFile(Attachment{ID: "9", Size: 0})
	st.trim()
	if len(st.Peers) != maxPeers || len(st.Files) != maxFiles {
		t.Fatalf("%d peers, %d files", len(st.Peers), len(st.Files))
	}
	for i := 0; i < 5; i++ {
		if _, ok := st.Peers[fmt.Sprintf("05%d", i)]; ok {
			t.Fatalf("profile %d, among the oldest, was kept", i)
		}
	}
	st.Peers["05a"] = peerProfile{Profile: Profile{Name: "Alice"}}
	st.Peers["05b"] = peerProfile{Profile: Profile{Name: "Bob"}}
	if st.nameOf("05a", "05me") != "Al" || st.nameOf("05b", "05me") != "Bob" || st.nameOf("05me", "05me") != "" {
		t.Fatal("names")
	}
	// A profile with a time replaces an older one or one without; one
	// without a time replaces only one without.
	held := peerProfile{Profile: Profile{UpdatedAt: 2000}}
	if !newer(&Profile{UpdatedAt: 3000}, held, true) || newer(&Profile{UpdatedAt: 1000}, held, true) || newer(&Profile{}, held, true) ||
		!newer(&Profile{}, peerProfile{}, true) || !newer(&Profile{UpdatedAt: 1}, held, false) {
		t.Fatal("newer")
	}
}

// TestFetchCopyShares: a fetch's copy of the in-memory state shares its
// largest parts with the state; what the copy changes does not show in the
// state, an aborted copy leaves the state as it was (the seen set too,
// past maxSeen), and a committed one keeps its changes.
func TestFetchCopyShares(t *testing.T) {
	st, err := loadState("")
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxSeen {
		st.remember("old" + strconv.Itoa(i))
	}
	st.Sent = append(st.Sent, sentRecord{Hash: "s0"})
	st.Received = append(st.Received, recvRecord{Hash: "r0"})
	check := func(s *state, step string, seen []string, unseen []string, n int) {
		t.Helper()
		for _, h := range seen {
			if !s.seen(h) {
				t.Fatalf("%s: %s is not seen", step, h)
			}
		}
		for _, h := range unseen {
			if s.seen(h) {
				t.Fatalf("%s: %s is seen", step, h)
			}
		}
		if len(s.Seen) != maxSeen || len(s.seenSet) != maxSeen || len(s.Sent) != n || len(s.Received) != n {
			t.Fatalf("%s: %d seen (set %d), %d sent, %d received; want %d, %d, %d", step, len(s.Seen), len(s.seenSet), len(s.Sent), len(s.Received), maxSeen, n, n)
		}
	}
	for _, keep := range []bool{false, true} {
		f := st.clone()
		f.remember("new1")
		f.remember("new2") // the two oldest go
		f.Sent = append(f.Sent, sentRecord{Hash: "s1"})
		f.Received = append(f.Received, recvRecord{Hash: "r1"})
		check(f, "the copy", []string{"new1", "new2", "old2"}, []string{"old0", "old1"}, 2)
		f.unshare(keep)
		if !keep {
			check(st, "the state after an abort", []string{"old0", "old1", "old2"}, []string{"new1", "new2"}, 1)
			if st.Seen[0] != "old0" || st.Sent[0].Hash != "s0" || st.Received[0].Hash != "r0" {
				t.Fatalf("the state changed under an aborted copy: %v %v %v", st.Seen[:2], st.Sent, st.Received)
			}
			continue
		}
		check(f, "a committed copy", []string{"new1", "new2", "old2"}, []string{"old0", "old1"}, 2)
		if f.sharesSeen || f.seenEdits != nil {
			t.Fatal("a committed copy still logs its seen set")
		}
	}
}

// A client past its maxSent-th send keeps the newest maxSent records, in
// order, without copying them at every send: the allocations of a thousand
// sends stay a few copies of the array.
func TestSentTrimAmortized(t *testing.T) {
	st := &state{}
	hashes := make([]string, maxSent+3000)
	for i := range hashes {
		hashes[i] = strconv.Itoa(i)
	}
	add := func(i int) {
		st.Sent = append(st.Sent, sentRecord{Hash: hashes[i]})
		st.trim()
	}
	i := 0
	for ; i < maxSent+10; i++ {
		add(i)
	}
	allocs := testing.AllocsPerRun(1, func() {
		for range 1000 {
			add(i)
			i++
		}
	})
	if allocs > 20 {
		t.Fatalf("%v allocations for 1,000 sends past the bound", allocs)
	}
	if len(st.Sent) != maxSent || st.Sent[0].Hash != strconv.Itoa(i-maxSent) || st.Sent[maxSent-1].Hash != strconv.Itoa(i-1) {
		t.Fatalf("%d records, %s to %s; want %d, the newest", len(st.Sent), st.Sent[0].Hash, st.Sent[len(st.Sent)-1].Hash, maxSent)
	}
}
