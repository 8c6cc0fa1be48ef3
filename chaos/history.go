package chaos

import (
	"sync"
	"time"
)

// Outcome is what the network said of an operation.
type Outcome string

// The outcomes.
const (
	Acked   Outcome = "acknowledged"
	Refused Outcome = "refused"
	Unknown Outcome = "unknown" // no answer in time: it may have happened
)

// Operation kinds.
const (
	OpSend      = "send"       // one-to-one message (Attach: with a file)
	OpUnsend    = "unsend"     // Ref: the send it takes back
	OpConfig    = "config"     // the user profile's name set to Value
	OpPost      = "post"       // a post in the community's lobby
	OpGroupSend = "group-send" // a message in the group
	OpGroupAdd  = "group-add"  // Target: the guest added (and joined)
	OpGroupJoin = "group-join" // a guest took its invite
	OpGroupKick = "group-kick" // Target: the guest kicked
	OpFetch     = "fetch"      // a device read its inbox (or the group)
)

// Op is one operation and its outcome. Times are unix ms.
type Op struct {
	ID      int     `json:"id"`
	Kind    string  `json:"kind"`
	Device  string  `json:"device"`           // who did it: "c2" (account 2's first device), "c2b", "c2g" (its groups)
	Target  string  `json:"target,omitempty"` // the account (c1), guest or group it went to
	Ref     int     `json:"ref,omitempty"`    // the operation it refers to
	Attach  bool    `json:"attach,omitempty"`
	Value   string  `json:"value,omitempty"`
	Start   int64   `json:"start"`
	End     int64   `json:"end"`
	Outcome Outcome `json:"outcome"`
	Err     string  `json:"error,omitempty"`
	Hash    string  `json:"hash,omitempty"`
	// Synced: a send's copy for the sender's other devices was stored;
	// an unsend's deletion of that copy was done.
	Synced bool `json:"synced,omitempty"`
	// Missed: the nodes down when it ran, killed so that they miss it.
	Missed []string `json:"missed,omitempty"`
}

// Shown is one message a device showed, by the operation its text names.
type Shown struct {
	Device string `json:"device"`
	Op     int    `json:"op"`
	Kind   string `json:"kind"`  // dm, sync (the sender's other device), request, group, post
	Fetch  int    `json:"fetch"` // the fetch operation that showed it (0: the final reads)
	Start  int64  `json:"start"` // when that fetch began, unix ms
	Hash   string `json:"hash,omitempty"`
}

// FaultEvent is one fault from its start to its heal (unix ms; End 0:
// never healed).
type FaultEvent struct {
	Kind   string   `json:"kind"`
	Nodes  []string `json:"nodes,omitempty"`
	Detail string   `json:"detail,omitempty"`
	Start  int64    `json:"start"`
	End    int64    `json:"end,omitempty"`
	Err    string   `json:"error,omitempty"` // it could not be made (or healed)
}

// Probe is a kicked member asking a node of the group's swarm to read.
type Probe struct {
	Kick   int    `json:"kick"` // the kick operation
	Member string `json:"member"`
	Node   string `json:"node"`
	Served bool   `json:"served"` // the node let it read
	Err    string `json:"error,omitempty"`
}

// DeviceConfig is the user profile config as one device read it at the end.
type DeviceConfig struct {
	Account string `json:"account"`
	Device  string `json:"device"`
	Name    string `json:"name"`
	Seqno   int64  `json:"seqno"`
	Err     string `json:"error,omitempty"`
}

// NodeHead is how far a node's view of the ledger reached at the end.
type NodeHead struct {
	Node   string `json:"node"`
	Height uint64 `json:"height"`
	Err    string `json:"error,omitempty"`
}

// Final is what the checker asked the healed network.
type Final struct {
	Configs      []DeviceConfig `json:"configs"`
	LedgerHeight uint64         `json:"ledger_height"`
	Heads        []NodeHead     `json:"heads"`
	Probes       []Probe        `json:"probes"`
}

// History is a run's record: what it planned, did, saw, and broke.
type History struct {
	Seed    uint64 `json:"seed"`
	RunID   string `json:"run_id"`
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
	Nodes   int    `json:"nodes"`
	Clients int    `json:"clients"`
	// Accounts are the devices of each account ("c1": c1, c1b).
	Accounts map[string][]string `json:"accounts"`
	// Members are the group devices in the group from its creation to the
	// end (never kicked): they read every message acknowledged.
	Members []string     `json:"members"`
	Ops     []Op         `json:"ops"`
	Shown   []Shown      `json:"shown"`
	Faults  []FaultEvent `json:"faults"`
	Final   Final        `json:"final"`
	// GroupReader: the device whose final group fetch counts posts and
	// the community's reader ("" if there is none).
	PostReader string `json:"post_reader,omitempty"`

	mu sync.Mutex
}

// maxOps and maxShown bound a history (a run that outlives them records
// no more; the report says so).
const (
	maxOps   = 200_000
	maxShown = 1_000_000
)

// begin records the start of an operation and returns its ID.
func (h *History) begin(op Op, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.Ops) >= maxOps {
		return 0
	}
	op.ID = len(h.Ops) + 1
	op.Start = now.UnixMilli()
	h.Ops = append(h.Ops, op)
	return op.ID
}

// finish records an operation's outcome.
func (h *History) finish(id int, now time.Time, out Outcome, err error, hash string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id <= 0 || id > len(h.Ops) {
		return
	}
	op := &h.Ops[id-1]
	op.End, op.Outcome, op.Hash = now.UnixMilli(), out, hash
	if err != nil {
		op.Err = err.Error()
	}
}

// setMissed records the nodes an operation ran without.
func (h *History) setMissed(id int, nodes []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id > 0 && id <= len(h.Ops) {
		h.Ops[id-1].Missed = nodes
	}
}

// setSynced records Op.Synced.
func (h *History) setSynced(id int, v bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id > 0 && id <= len(h.Ops) {
		h.Ops[id-1].Synced = v
	}
}

// setValue records Op.Value.
func (h *History) setValue(id int, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id > 0 && id <= len(h.Ops) {
		h.Ops[id-1].Value = v
	}
}

// op returns a copy of operation id.
func (h *History) op(id int) (Op, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id <= 0 || id > len(h.Ops) {
		return Op{}, false
	}
	return h.Ops[id-1], true
}

func (h *History) show(s []Shown) {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := maxShown - len(h.Shown)
	if room <= 0 {
		return
	}
	if len(s) > room {
		s = s[:room]
	}
	h.Shown = append(h.Shown, s...)
}

// fault records a fault's start and returns its index.
func (h *History) fault(f FaultEvent) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Faults = append(h.Faults, f)
	return len(h.Faults) - 1
}

func (h *History) healed(i int, now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Faults[i].End = now.UnixMilli()
	if err != nil && h.Faults[i].Err == "" {
		h.Faults[i].Err = "heal: " + err.Error()
	}
}
