package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"

	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// state is what a client remembers between fetches.
type state struct {
	// LastHashes: member's Ed25519 key -> namespace -> the last hash that
	// member gave. (Older clients kept one "last_hash" for the whole swarm,
	// which loses messages: it is ignored, and Seen keeps what was read.)
	LastHashes map[string]map[string]string `json:"last_hashes"`
	Seen       []string                     `json:"seen"` // recent hashes, oldest first
	seenSet    map[string]bool
	// sharesSeen marks a fetch's copy of the in-memory state (clone),
	// which shares seenSet with the client's state: seenEdits are what
	// remember changed in it, for unshare to keep or take back.
	sharesSeen bool
	seenEdits  []seenEdit
	// Sent are this device's recent messages (unsend finds them here);
	// Received, the recent messages it read (an UnsendRequest names one by
	// author and time). Oldest first, at most maxSent and maxSeen.
	Sent     []sentRecord `json:"sent,omitempty"`
	Received []recvRecord `json:"received,omitempty"`
	// Contacts caches the contacts config (requests.go): Account ID ->
	// contactApproved | contactBlocked, at most maxContacts.
	Contacts map[string]uint8 `json:"contacts,omitempty"`
	// Requests are the message requests held until accepted or declined,
	// oldest first, at most maxRequests.
	Requests []Message `json:"requests,omitempty"`
	// Nicknames caches the nicknames of the contacts config, at most
	// maxContacts.
	Nicknames map[string]string `json:"nicknames,omitempty"`
	// Own is this account's profile as this device last read or set it
	// (profiles.go); Peers, the profiles others' messages carried, by
	// Account ID, at most maxPeers.
	Own   *Profile               `json:"own,omitempty"`
	Peers map[string]peerProfile `json:"peers,omitempty"`
	// Files are the attachments this device uploaded or read pointers to,
	// oldest first, at most maxFiles: a download by id alone learns the
	// file's size from them (files.go).
	Files []fileRecord `json:"files,omitempty"`
	// Unsent are the messages UnsendRequests took back, by author and
	// sent time, oldest first, at most maxSeen: a message that arrives
	// after its UnsendRequest (from a swarm member that had missed it, or
	// in another order) is never shown.
	Unsent []unsentRecord `json:"unsent,omitempty"`
}

// unsentRecord names a message its author took back.
type unsentRecord struct {
	Author string `json:"author"`
	SentAt int64  `json:"sent_at"`
}

// fileRecord is what a pointer says of a file.
type fileRecord struct {
	ID   string `json:"id"`
	Size int    `json:"size"`
}

// sentRecord is a message this device sent: text (Kind "") or a reaction.
type sentRecord struct {
	Hash     string `json:"hash"`
	To       string `json:"to"`
	SentAt   int64  `json:"sent_at"`
	SyncHash string `json:"sync_hash,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Text     string `json:"text,omitempty"` // a snippet
}

// recvRecord is a text message this device read: from another account,
// or (To set) a copy of what another device of this account sent to To.
type recvRecord struct {
	Hash   string `json:"hash"`
	From   string `json:"from"`
	SentAt int64  `json:"sent_at"`
	To     string `json:"to,omitempty"`
	Text   string `json:"text,omitempty"` // a snippet
}

const maxSent = 1_000

const maxSeen = 10_000

func loadState(path string) (*state, error) {
	st := &state{}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read client state: %w", err)
		default:
			if err := json.Unmarshal(data, st); err != nil {
				return nil, fmt.Errorf("client state %s is damaged: %w", path, err)
			}
		}
	}
	if st.LastHashes == nil {
		st.LastHashes = map[string]map[string]string{}
	}
	if len(st.Seen) > maxSeen {
		st.Seen = st.Seen[len(st.Seen)-maxSeen:]
	}
	st.trim()
	st.seenSet = map[string]bool{}
	for _, h := range st.Seen {
		st.seenSet[h] = true
	}
	return st, nil
}

// seenEdit is one change remember made to a shared seen set.
type seenEdit struct {
	hash  string
	added bool // else removed (the oldest, past maxSeen)
}

// clone is a fetch's copy of the in-memory state: what the fetch changes
// goes to the copy, which replaces the state on Commit, or is dropped on
// Abort. Copying everything cost a fetch as much as the rest of a send
// once a client had sent and read its last thousand messages, so the
// largest parts are shared, each in a way the fetch (which holds the
// state's lock: nobody else changes the state meanwhile) cannot change
// under the state: Seen, Sent and Received, which a fetch only reads or
// appends to, or replaces (an append past the state's own length is not
// seen by it), and seenSet, whose changes are logged and taken back by
// unshare(false) on Abort.
func (s *state) clone() *state {
	out := &state{LastHashes: map[string]map[string]string{}, Seen: s.Seen, seenSet: s.seenSet, sharesSeen: true,
		Sent: s.Sent, Received: s.Received, Contacts: maps.Clone(s.Contacts),
		Requests: slices.Clone(s.Requests), Nicknames: maps.Clone(s.Nicknames), Own: s.Own, Peers: maps.Clone(s.Peers),
		Files: slices.Clone(s.Files), Unsent: slices.Clone(s.Unsent)}
	for k, m := range s.LastHashes {
		out.LastHashes[k] = maps.Clone(m)
	}
	return out
}

// unshare ends a clone's sharing of the seen set: keep leaves the changes
// (the copy replaces the state), otherwise they are taken back, newest
// first, and the set is the state's as it was.
func (s *state) unshare(keep bool) {
	if !s.sharesSeen {
		return
	}
	for i := len(s.seenEdits) - 1; i >= 0 && !keep; i-- {
		if e := s.seenEdits[i]; e.added {
			delete(s.seenSet, e.hash)
		} else {
			s.seenSet[e.hash] = true
		}
	}
	s.sharesSeen, s.seenEdits = false, nil
}

func (s *state) lastHash(node string, ns storagerpc.Namespace) string {
	return s.LastHashes[node][strconv.Itoa(int(ns))]
}

func (s *state) setLastHash(node string, ns storagerpc.Namespace, h string) {
	m := s.LastHashes[node]
	if m == nil {
		m = map[string]string{}
		s.LastHashes[node] = m
	}
	m[strconv.Itoa(int(ns))] = h
}

func (s *state) seen(h string) bool { return s.seenSet[h] }

func (s *state) remember(h string) {
	if s.sharesSeen && !s.seenSet[h] {
		s.seenEdits = append(s.seenEdits, seenEdit{hash: h, added: true})
	}
	s.seenSet[h] = true
	s.Seen = append(s.Seen, h)
	if len(s.Seen) > maxSeen {
		if s.sharesSeen && s.seenSet[s.Seen[0]] {
			s.seenEdits = append(s.seenEdits, seenEdit{hash: s.Seen[0]})
		}
		delete(s.seenSet, s.Seen[0])
		s.Seen = s.Seen[1:]
	}
}

func (s *state) save(path string) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
