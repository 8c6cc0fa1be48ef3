package chaos

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestPlanFromSeed: the same seed gives the same plan, another seed
// another; a short run makes every kind asked for, and heals the last
// before its quiet end.
func TestPlanFromSeed(t *testing.T) {
	kinds := []string{FaultKill, FaultSwarm, FaultMiss, FaultDevnet, FaultSkew, FaultSkewFar, FaultDisk, FaultReadOnly}
	a, b := NewPlan(42, time.Minute, 4, kinds), NewPlan(42, time.Minute, 4, kinds)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one seed, two plans")
	}
	if reflect.DeepEqual(a.Faults, NewPlan(43, time.Minute, 4, kinds).Faults) {
		t.Fatal("two seeds, one plan")
	}
	var made []string
	for _, f := range a.Faults {
		made = append(made, f.Kind)
		if f.At+f.Hold > time.Minute-healMargin {
			t.Errorf("%s at %v held %v: past the quiet end", f.Kind, f.At, f.Hold)
		}
	}
	for _, k := range kinds {
		if !slices.Contains(made, k) {
			t.Errorf("a minute's plan makes no %s: %v", k, made)
		}
	}
	if len(a.Ops) != 4 || len(a.Ops[0]) < 100 {
		t.Fatalf("traffic: %d accounts, %d operations", len(a.Ops), len(a.Ops[0]))
	}
	if len(NewPlan(1, time.Minute, 4, nil).Faults) != 0 {
		t.Fatal("faults planned with no kind asked")
	}
	if _, err := ParseFaults("kill,nope"); err == nil {
		t.Fatal("an unknown kind was taken")
	}
	if k, err := ParseFaults("all"); err != nil || k != nil {
		t.Fatalf("all: %v %v", k, err)
	}
}
