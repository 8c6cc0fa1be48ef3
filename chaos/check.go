package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The properties the checker verifies (Violation.Property).
const (
	// PropExactlyOnce: every acknowledged message is shown exactly once by
	// each device of its recipient, the sender's other device, and (a
	// group message) each member; an acknowledged post once by the reader.
	PropExactlyOnce = "exactly-once"
	// PropUnsent: a message whose unsend was acknowledged is never shown
	// by a fetch begun after the acknowledgement.
	PropUnsent = "unsent-shown"
	// PropKickRefused: a kicked member is refused by every node of the
	// group's swarm once the kick was acknowledged.
	PropKickRefused = "kicked-served"
	// PropKickReads: a kicked member shows no group message sent after the
	// kick was acknowledged.
	PropKickReads = "kicked-reads"
	// PropConfigs: every device of an account converges to the same configs.
	PropConfigs = "configs-diverge"
	// PropLedgerHead: every node reaches the ledger's head.
	PropLedgerHead = "ledger-head"
	// PropUnackedTwice: nothing unacknowledged is shown twice by one device.
	PropUnackedTwice = "unacked-twice"
)

// Properties lists every property, in the order the report gives them.
var Properties = []string{PropExactlyOnce, PropUnsent, PropKickRefused, PropKickReads, PropConfigs, PropLedgerHead, PropUnackedTwice}

// Violation is a property broken, with the operations and the shown
// records that prove it.
type Violation struct {
	Property string   `json:"property"`
	Text     string   `json:"text"`
	Ops      []Op     `json:"ops,omitempty"`
	Shown    []Shown  `json:"shown,omitempty"`
	Probes   []Probe  `json:"probes,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
}

// maxViolations bounds the violations one check reports (the count is
// still exact).
const maxViolations = 200

// readers are the devices that must show an acknowledged operation's
// message exactly once, and with which kind.
func (h *History) readers(op Op) map[string]bool {
	out := map[string]bool{}
	switch op.Kind {
	case OpSend:
		for _, d := range h.Accounts[op.Target] {
			out[d] = true
		}
		for _, d := range h.Accounts[accountOf(op.Device)] {
			if d != op.Device && op.Synced {
				out[d] = true
			}
		}
	case OpGroupSend:
		for _, d := range h.Members {
			if d != op.Device {
				out[d] = true
			}
		}
	case OpPost:
		if h.PostReader != "" {
			out[h.PostReader] = true
		}
	}
	return out
}

// accountOf is the account a device belongs to: c2b -> c2.
func accountOf(device string) string {
	return strings.TrimRight(device, "bg")
}

// carriesMessage says whether an operation's text is shown to readers.
func carriesMessage(kind string) bool {
	return kind == OpSend || kind == OpGroupSend || kind == OpPost
}

// Check reads a history and returns every property it breaks, and how
// many violations there were in all (the list stops at maxViolations).
func Check(h *History) ([]Violation, int) {
	var out []Violation
	total := 0
	add := func(v Violation) {
		total++
		if len(out) < maxViolations {
			out = append(out, v)
		}
	}
	byOp := map[int][]Shown{}
	for _, s := range h.Shown {
		byOp[s.Op] = append(byOp[s.Op], s)
	}
	ops := map[int]Op{}
	for _, op := range h.Ops {
		ops[op.ID] = op
	}
	// Unsends: which sends were taken back (any outcome), and when an
	// acknowledged one was.
	unsendTried := map[int]bool{}
	unsentAt := map[int]Op{}
	for _, op := range h.Ops {
		if op.Kind != OpUnsend {
			continue
		}
		unsendTried[op.Ref] = true
		if op.Outcome == Acked {
			if prev, ok := unsentAt[op.Ref]; !ok || op.End < prev.End {
				unsentAt[op.Ref] = op
			}
		}
	}
	for _, op := range h.Ops {
		if !carriesMessage(op.Kind) {
			continue
		}
		shown := byOp[op.ID]
		perDevice := map[string][]Shown{}
		for _, s := range shown {
			perDevice[s.Device] = append(perDevice[s.Device], s)
		}
		if op.Outcome != Acked {
			for _, d := range sortedKeys(perDevice) {
				if ss := perDevice[d]; len(ss) > 1 {
					add(Violation{Property: PropUnackedTwice, Ops: []Op{op}, Shown: ss,
						Text: fmt.Sprintf("%s #%d (%s) was shown %d times by %s", op.Kind, op.ID, op.Outcome, len(ss), d)})
				}
			}
			continue
		}
		for _, d := range sortedKeys(h.readers(op)) {
			ss := perDevice[d]
			switch {
			case unsendTried[op.ID] && len(ss) <= 1:
				// taken back: shown once or never
			case len(ss) == 0:
				add(Violation{Property: PropExactlyOnce, Ops: []Op{op},
					Text: fmt.Sprintf("%s #%d was acknowledged and never shown by %s", op.Kind, op.ID, d)})
			case len(ss) > 1:
				add(Violation{Property: PropExactlyOnce, Ops: []Op{op}, Shown: ss,
					Text: fmt.Sprintf("%s #%d was shown %d times by %s", op.Kind, op.ID, len(ss), d)})
			}
		}
		// The sending device itself shows a one-to-one message never, a
		// group message at most once.
		if ss := perDevice[op.Device]; len(ss) > 1 {
			add(Violation{Property: PropExactlyOnce, Ops: []Op{op}, Shown: ss,
				Text: fmt.Sprintf("%s #%d was shown %d times by its own sender %s", op.Kind, op.ID, len(ss), op.Device)})
		}
		if u, ok := unsentAt[op.ID]; ok {
			for _, s := range shown {
				if s.Start > u.End && (s.Kind != "sync" || u.Synced) {
					add(Violation{Property: PropUnsent, Ops: []Op{op, u}, Shown: []Shown{s},
						Text: fmt.Sprintf("send #%d was shown by %s in a fetch begun %d ms after its unsend #%d was acknowledged", op.ID, s.Device, s.Start-u.End, u.ID)})
				}
			}
		}
	}
	// Kicks.
	for _, op := range h.Ops {
		if op.Kind != OpGroupKick || op.Outcome != Acked {
			continue
		}
		for _, p := range h.Final.Probes {
			if p.Kick == op.ID && p.Served {
				add(Violation{Property: PropKickRefused, Ops: []Op{op}, Probes: []Probe{p}, Nodes: []string{p.Node},
					Text: fmt.Sprintf("%s, kicked by #%d, was let read the group by %s", p.Member, op.ID, p.Node)})
			}
		}
		for _, s := range h.Shown {
			if s.Device != op.Target || s.Kind != "group" {
				continue
			}
			if sent, ok := ops[s.Op]; ok && sent.Start > op.End {
				add(Violation{Property: PropKickReads, Ops: []Op{op, sent}, Shown: []Shown{s},
					Text: fmt.Sprintf("%s, kicked by #%d, read group message #%d sent %d ms after the kick was acknowledged", op.Target, op.ID, sent.ID, sent.Start-op.End)})
			}
		}
	}
	// Configs.
	byAccount := map[string][]DeviceConfig{}
	for _, c := range h.Final.Configs {
		byAccount[c.Account] = append(byAccount[c.Account], c)
	}
	for _, a := range sortedKeys(byAccount) {
		cs := byAccount[a]
		same := true
		var parts []string
		for _, c := range cs {
			if c.Err != "" || c.Name != cs[0].Name || c.Seqno != cs[0].Seqno {
				same = false
			}
			if c.Err != "" {
				parts = append(parts, fmt.Sprintf("%s: %s", c.Device, c.Err))
			} else {
				parts = append(parts, fmt.Sprintf("%s: name %q seqno %d", c.Device, c.Name, c.Seqno))
			}
		}
		if !same {
			var cfgOps []Op
			for _, op := range h.Ops {
				if op.Kind == OpConfig && accountOf(op.Device) == a {
					cfgOps = append(cfgOps, op)
				}
			}
			if len(cfgOps) > 5 {
				cfgOps = cfgOps[len(cfgOps)-5:] // the last ones
			}
			add(Violation{Property: PropConfigs, Ops: cfgOps,
				Text: fmt.Sprintf("the devices of %s did not converge: %s", a, strings.Join(parts, "; "))})
		}
	}
	// The ledger's head.
	for _, n := range h.Final.Heads {
		if n.Err != "" || n.Height < h.Final.LedgerHeight {
			why := fmt.Sprintf("at height %d", n.Height)
			if n.Err != "" {
				why = "did not say: " + n.Err
			}
			add(Violation{Property: PropLedgerHead, Nodes: []string{n.Node},
				Text: fmt.Sprintf("%s %s, the ledger at %d", n.Node, why, h.Final.LedgerHeight)})
		}
	}
	return out, total
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// propertiesOf lists the properties a set of violations breaks.
func propertiesOf(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Property) {
			out = append(out, v.Property)
		}
	}
	return out
}
