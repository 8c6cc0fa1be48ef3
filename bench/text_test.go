package bench

import (
	"strings"
	"testing"
	"time"
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

func TestParseLevelsAndCheck(t *testing.T) {
	if l, err := ParseLevels("1, 8,64"); err != nil || len(l) != 3 || l[1] != 8 {
		t.Fatalf("ParseLevels = %v, %v", l, err)
	}
	for _, bad := range []string{"", "1,x", "0", "2000"} {
		if _, err := ParseLevels(bad); err == nil {
			t.Errorf("ParseLevels(%q) accepted", bad)
		}
	}
	if err := (Config{Nodes: 12, Duration: time.Second}).Check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{{Nodes: 3, Duration: time.Second}, {Nodes: 12, Duration: time.Millisecond}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
