package bench

import (
	"strings"
	"testing"
)

func TestWriteText(t *testing.T) {
	r := &Report{Nodes: 12, CPUs: 2, ReadyMS: 900, BareMS: 300, ReadyRatio: 3, Load: []Level{{Clients: 8, SendsPerSec: 40, Failed: 1}},
		Goals: []Goal{{What: "ready", Want: "< 5x", Got: "3.00x", Met: true}, {What: "p99", Want: "< 1 s", Got: "2 s"}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sessionctl bench: 12 nodes, 2 CPUs", "ready             900 ms", "(bare libp2p hosts: 300 ms, 3.00×)", "        8       40", "ready  < 5x   3.00x  yes", "p99    < 1 s  2 s    no"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}
