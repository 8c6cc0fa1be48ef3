package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Fault kinds. The first three need only that nodes can be killed and
// restarted; the Target says which of the others it supports.
const (
	FaultKill  = "kill"  // 1 to 3 nodes killed at once, restarted seconds later
	FaultSwarm = "swarm" // every member of an account's swarm but one killed
	FaultMiss  = "miss"  // a swarm member killed while a kick, unsend or config change is made
	// FaultSigkill SIGKILLs node processes (a devnet up --procs).
	FaultSigkill = "sigkill"
	// FaultDevnet SIGKILLs the devnet itself and resumes it.
	FaultDevnet = "devnet-kill"
	// FaultSkew moves one node's clock within the ±60 s signature window;
	// FaultSkewFar beyond it.
	FaultSkew    = "skew"
	FaultSkewFar = "skew-far"
	// FaultDisk fills one node's disk; FaultReadOnly makes its data
	// directory read-only.
	FaultDisk     = "disk-full"
	FaultReadOnly = "read-only"
	// FaultPartition cuts one host from the others; FaultSlow slows its
	// links (network namespaces).
	FaultPartition = "partition"
	FaultSlow      = "slow"
)

// FaultKinds are every fault kind, in the order the plan draws them.
var FaultKinds = []string{FaultKill, FaultSwarm, FaultMiss, FaultSigkill, FaultDevnet, FaultSkew, FaultSkewFar, FaultDisk, FaultReadOnly, FaultPartition, FaultSlow}

// basicFaults need only Kill and Restart.
var basicFaults = []string{FaultKill, FaultSwarm, FaultMiss}

// ParseFaults reads a --faults list ("kill,swarm", "all").
func ParseFaults(s string) ([]string, error) {
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(FaultKinds, f) {
			return nil, fmt.Errorf("fault %q: want some of %s, or all", f, strings.Join(FaultKinds, ","))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// PlannedFault is one fault of the plan.
type PlannedFault struct {
	At   time.Duration `json:"at"`   // from the run's start
	Kind string        `json:"kind"` //
	Hold time.Duration `json:"hold"` // how long before it is healed
	// Nodes are node indexes (taken modulo the nodes running) for kill,
	// sigkill, skew, disk, partition and slow.
	Nodes []int `json:"nodes,omitempty"`
	// Account is whose swarm (swarm, miss); -1 is the group's.
	Account int `json:"account"`
	// Keep is which member survives (swarm) or is killed (miss), modulo
	// the swarm's size.
	Keep int `json:"keep"`
	// Miss is what the member misses: kick, unsend or config.
	Miss string `json:"miss,omitempty"`
	// Skew is how far a clock moves.
	Skew time.Duration `json:"skew,omitempty"`
}

// PlannedOp is one step of an account's traffic.
type PlannedOp struct {
	Kind   string        `json:"kind"`
	Device int           `json:"device"` // 0 or 1: which of the account's devices
	To     int           `json:"to"`     // the account written to (send)
	Attach bool          `json:"attach,omitempty"`
	Pause  time.Duration `json:"pause"` // before it
}

// Plan is everything a seed decides.
type Plan struct {
	Seed     uint64         `json:"seed"`
	Duration time.Duration  `json:"duration"`
	Faults   []PlannedFault `json:"faults"`
	// Ops are each account's operations, in order (the worker stops at the
	// run's end, wherever it is).
	Ops [][]PlannedOp `json:"ops"`
}

// heal is the quiet time a run keeps at its end: the last fault is healed
// before it.
const healMargin = 8 * time.Second

// NewPlan draws the plan of a run from seed alone: math/rand/v2's PCG.
func NewPlan(seed uint64, d time.Duration, clients int, kinds []string) Plan {
	r := rand.New(rand.NewPCG(seed, seed^0x5e55_10c7_c4a0_5000))
	p := Plan{Seed: seed, Duration: d}
	if len(kinds) > 0 {
		// Every kind once first, in an order of the seed's (a short run
		// makes each), then any; the more kinds, the shorter each.
		first := r.Perm(len(kinds))
		hold := 5000
		if len(kinds) > 4 {
			hold = 3000
		}
		at := 2*time.Second + time.Duration(r.IntN(2000))*time.Millisecond
		for n := 0; at < d-healMargin; n++ {
			kind := kinds[r.IntN(len(kinds))]
			if n < len(first) {
				kind = kinds[first[n]]
			}
			f := PlannedFault{At: at, Kind: kind, Hold: 2*time.Second + time.Duration(r.IntN(hold))*time.Millisecond,
				Account: r.IntN(clients+1) - 1, Keep: r.IntN(64)}
			n := 1 + r.IntN(3)
			for range n {
				f.Nodes = append(f.Nodes, r.IntN(1<<16))
			}
			switch f.Kind {
			case FaultMiss:
				f.Miss = []string{"kick", "unsend", "config"}[r.IntN(3)]
				if f.Miss == "kick" {
					f.Account = -1
				} else if f.Account < 0 {
					f.Account = 0
				}
			case FaultSwarm:
				if f.Account < 0 && r.IntN(2) == 0 {
					f.Account = 0
				}
			case FaultSkew:
				f.Skew = time.Duration(5+r.IntN(40)) * time.Second
			case FaultSkewFar:
				f.Skew = time.Duration(90+r.IntN(120)) * time.Second
			case FaultDevnet:
				f.Hold = time.Second // it is down until resumed
			}
			if r.IntN(2) == 0 {
				f.Skew = -f.Skew
			}
			if at+f.Hold > d-healMargin {
				f.Hold = max(time.Second, d-healMargin-at)
			}
			p.Faults = append(p.Faults, f)
			at += f.Hold + time.Second + time.Duration(r.IntN(hold/2))*time.Millisecond
		}
	}
	// Each account: as many operations as it could do at one every 100 ms.
	n := int(d/(100*time.Millisecond)) + 1
	for a := range clients {
		var ops []PlannedOp
		for range n {
			op := PlannedOp{Device: r.IntN(2), To: (a + 1 + r.IntN(max(1, clients-1))) % clients,
				Pause: time.Duration(100+r.IntN(500)) * time.Millisecond}
			x := r.IntN(100)
			switch {
			case x < 30:
				op.Kind = OpSend
				op.Attach = r.IntN(5) == 0
			case x < 52:
				op.Kind = OpFetch
			case x < 58:
				op.Kind = OpUnsend
			case x < 64:
				op.Kind = OpConfig
			case x < 70:
				op.Kind = OpPost
			case x < 85:
				op.Kind = OpGroupSend
			case x < 92 && a == 0:
				op.Kind = OpGroupAdd
			case a == 0:
				op.Kind = OpGroupKick
			default:
				op.Kind = OpFetch
			}
			ops = append(ops, op)
		}
		p.Ops = append(p.Ops, ops)
	}
	return p
}
