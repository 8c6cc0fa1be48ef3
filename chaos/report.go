package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/atomicfile"
)

// Report is what a run found: `sessionctl chaos` prints it, and --json
// gives it as it is.
type Report struct {
	Seed     uint64 `json:"seed"`
	RunID    string `json:"run_id"`
	Duration int64  `json:"duration_ms"`
	Nodes    int    `json:"nodes"`
	Clients  int    `json:"clients"`
	// Faults are the kinds made; Skipped the kinds left out, and why.
	Faults  []string          `json:"faults"`
	Skipped map[string]string `json:"skipped,omitempty"`
	// Timeline is every fault from start to heal, in ms from the start.
	Timeline []FaultEvent `json:"timeline"`
	// FaultCounts are the faults made by kind (failed ones apart).
	FaultCounts map[string]int `json:"fault_counts"`
	FaultErrors int            `json:"fault_errors"`
	// Ops counts the operations by kind and outcome; Outcomes by outcome.
	Ops      map[string]map[Outcome]int `json:"ops"`
	Outcomes map[Outcome]int            `json:"outcomes"`
	Shown    int                        `json:"shown"`
	// Checked says what the final reads found to check.
	Checked    Checked     `json:"checked"`
	Violations []Violation `json:"violations"`
	// ViolationCount is every violation (Violations stops at 200).
	ViolationCount int `json:"violation_count"`
	// Aborted says why the run stopped without a check ("" if it did not).
	Aborted string `json:"aborted,omitempty"`
	// Replay is the command that runs the same plan again.
	Replay  string   `json:"replay"`
	History *History `json:"-"`
}

// Checked counts what the checker had to look at.
type Checked struct {
	Configs      int    `json:"configs"`
	Probes       int    `json:"probes"`
	Heads        int    `json:"heads"`
	LedgerHeight uint64 `json:"ledger_height"`
}

func newReport(h *History, p Plan, kinds []string, skipped map[string]string) *Report {
	rep := &Report{Seed: h.Seed, RunID: h.RunID, Duration: h.End - h.Start, Nodes: h.Nodes, Clients: h.Clients,
		Faults: kinds, Skipped: skipped, FaultCounts: map[string]int{}, Ops: map[string]map[Outcome]int{},
		Outcomes: map[Outcome]int{}, Shown: len(h.Shown), History: h}
	if rep.Faults == nil {
		rep.Faults = []string{}
	}
	for _, f := range h.Faults {
		f.Start -= h.Start
		if f.End != 0 {
			f.End -= h.Start
		}
		rep.Timeline = append(rep.Timeline, f)
		if f.Err != "" && len(f.Nodes) == 0 {
			rep.FaultErrors++
			continue
		}
		rep.FaultCounts[f.Kind]++
	}
	for _, op := range h.Ops {
		if rep.Ops[op.Kind] == nil {
			rep.Ops[op.Kind] = map[Outcome]int{}
		}
		rep.Ops[op.Kind][op.Outcome]++
		rep.Outcomes[op.Outcome]++
	}
	rep.Checked = Checked{Configs: len(h.Final.Configs), Probes: len(h.Final.Probes), Heads: len(h.Final.Heads), LedgerHeight: h.Final.LedgerHeight}
	rep.Violations, rep.ViolationCount = Check(h)
	if rep.Violations == nil {
		rep.Violations = []Violation{}
	}
	rep.Replay = fmt.Sprintf("sessionctl chaos --seed %d --duration %s --clients %d --faults %s", h.Seed,
		p.Duration, h.Clients, strings.Join(rep.Faults, ","))
	return rep
}

// WriteText writes the report for a person.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run %s: seed %d, %s of traffic and faults, %d nodes, %d accounts\n",
		rep.RunID, rep.Seed, time.Duration(rep.Duration)*time.Millisecond, rep.Nodes, rep.Clients)
	fmt.Fprintf(&b, "faults made: %s\n", strings.Join(rep.Faults, ", "))
	for _, k := range sortedKeys(rep.Skipped) {
		fmt.Fprintf(&b, "  skipped %s: %s\n", k, rep.Skipped[k])
	}
	fmt.Fprintf(&b, "\nfault timeline (s from the start):\n")
	for _, f := range rep.Timeline {
		end := "never healed"
		if f.End != 0 {
			end = fmt.Sprintf("%6.1f", float64(f.End)/1000)
		}
		fmt.Fprintf(&b, "  %6.1f .. %s  %-10s %s", float64(f.Start)/1000, end, f.Kind, f.Detail)
		if len(f.Nodes) > 0 && !strings.Contains(f.Detail, f.Nodes[0]) {
			fmt.Fprintf(&b, " [%s]", strings.Join(f.Nodes, " "))
		}
		if f.Err != "" {
			fmt.Fprintf(&b, " (error: %s)", f.Err)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "faults by kind:")
	for _, k := range sortedKeys(rep.FaultCounts) {
		fmt.Fprintf(&b, " %s %d", k, rep.FaultCounts[k])
	}
	fmt.Fprintf(&b, " (not made: %d)\n", rep.FaultErrors)
	fmt.Fprintf(&b, "\noperations by outcome:\n")
	kinds := sortedKeys(rep.Ops)
	fmt.Fprintf(&b, "  %-11s %12s %8s %8s\n", "", Acked, Refused, Unknown)
	for _, k := range kinds {
		m := rep.Ops[k]
		fmt.Fprintf(&b, "  %-11s %12d %8d %8d\n", k, m[Acked], m[Refused], m[Unknown])
	}
	fmt.Fprintf(&b, "  %-11s %12d %8d %8d\n", "all", rep.Outcomes[Acked], rep.Outcomes[Refused], rep.Outcomes[Unknown])
	fmt.Fprintf(&b, "messages shown: %d; checked %d configs, %d probes of kicked members, %d nodes' heads (ledger at %d)\n",
		rep.Shown, rep.Checked.Configs, rep.Checked.Probes, rep.Checked.Heads, rep.Checked.LedgerHeight)
	if rep.Aborted != "" {
		fmt.Fprintf(&b, "\nnot checked: %s\n", rep.Aborted)
	} else if rep.ViolationCount == 0 {
		fmt.Fprintf(&b, "\nno violation: %s all held\n", strings.Join(Properties, ", "))
	} else {
		fmt.Fprintf(&b, "\n%d violations (%s):\n", rep.ViolationCount, strings.Join(propertiesOf(rep.Violations), ", "))
		for _, v := range rep.Violations {
			fmt.Fprintf(&b, "  %s: %s\n", v.Property, v.Text)
			for _, op := range v.Ops {
				fmt.Fprintf(&b, "    op #%d %s by %s", op.ID, op.Kind, op.Device)
				if op.Target != "" {
					fmt.Fprintf(&b, " to %s", op.Target)
				}
				fmt.Fprintf(&b, " at %.3fs..%.3fs: %s", float64(op.Start-rep.History.Start)/1000, float64(op.End-rep.History.Start)/1000, op.Outcome)
				if op.Err != "" {
					fmt.Fprintf(&b, " (%s)", op.Err)
				}
				if len(op.Missed) > 0 {
					fmt.Fprintf(&b, " while %s was down", strings.Join(op.Missed, ", "))
				}
				b.WriteString("\n")
			}
			for _, s := range v.Shown {
				fmt.Fprintf(&b, "    shown by %s as %s in fetch #%d begun at %.3fs\n", s.Device, s.Kind, s.Fetch, float64(s.Start-rep.History.Start)/1000)
			}
			for _, p := range v.Probes {
				fmt.Fprintf(&b, "    %s asked %s: served\n", p.Member, p.Node)
			}
		}
	}
	fmt.Fprintf(&b, "\nseed %d; replay: %s\n", rep.Seed, rep.Replay)
	_, err := io.WriteString(w, b.String())
	return err
}

// SaveHistory writes the run's whole history as JSON (mode 0600).
func (rep *Report) SaveHistory(path string) error {
	h := rep.History
	h.mu.Lock()
	data, err := json.Marshal(h)
	h.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}
