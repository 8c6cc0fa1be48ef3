package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/identity"
)

// faults makes the planned faults, one after another, each healed before
// the next; the last is healed before the run's quiet end.
func (r *run) faults(ctx context.Context) {
	start := r.cfg.Now()
	for _, f := range r.plan.Faults {
		wait := f.At - r.cfg.Now().Sub(start)
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			return
		}
		r.fault(ctx, f)
	}
}

// fault makes one fault, holds it, and heals it. Healing uses a context of
// its own: a run that ends still heals what it broke.
func (r *run) fault(ctx context.Context, f PlannedFault) {
	hctx := context.WithoutCancel(ctx)
	ev := FaultEvent{Kind: f.Kind, Start: r.cfg.Now().UnixMilli()}
	var heal func(context.Context) error
	var err error
	switch f.Kind {
	case FaultKill, FaultSwarm:
		var victims []string
		if victims, err = r.victims(ctx, f); err == nil {
			ev.Nodes = victims
			ev.Detail, heal, err = r.kill(ctx, victims)
			if f.Kind == FaultSwarm {
				ev.Detail = fmt.Sprintf("the swarm of %s but one member", r.ownerName(f.Account))
			}
		}
	case FaultMiss:
		ev.Nodes, ev.Detail, heal, err = r.miss(ctx, f)
	default:
		var nodes []string
		if nodes, err = r.pick(ctx, f.Nodes, 1); err == nil {
			var in Injected
			in, err = r.cfg.Target.Inject(ctx, f, nodes)
			ev.Nodes, ev.Detail, heal = nodes, in.Detail, in.Heal
			if in.Nodes != nil {
				ev.Nodes = in.Nodes
			}
		}
	}
	if err != nil {
		ev.Err = err.Error()
	}
	idx := r.h.fault(ev)
	r.tellFault(idx)
	if heal == nil {
		r.h.healed(idx, r.cfg.Now(), nil)
		r.tellFault(idx)
		return
	}
	if f.Kind != FaultMiss { // a miss healed already: it held while its operation ran
		select {
		case <-ctx.Done():
		case <-time.After(f.Hold):
		}
	}
	herr := heal(hctx)
	r.h.healed(idx, r.cfg.Now(), herr)
	r.tellFault(idx)
}

func (r *run) tellFault(i int) {
	if r.cfg.OnFault == nil {
		return
	}
	r.h.mu.Lock()
	ev := r.h.Faults[i]
	r.h.mu.Unlock()
	r.cfg.OnFault(ev)
}

// ownerName names whose swarm a fault is about.
func (r *run) ownerName(a int) string {
	if a < 0 {
		return "the group"
	}
	return r.accounts[a%len(r.accounts)].name
}

// owner is the account whose swarm a fault is about.
func (r *run) owner(a int) identity.AccountID {
	if a < 0 {
		return r.gid
	}
	return r.accounts[a%len(r.accounts)].keys.AccountID()
}

// running lists the running nodes, by name and key.
func (r *run) running(ctx context.Context) ([]Node, error) {
	nodes, err := r.cfg.Target.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(nodes, func(n Node) bool { return !n.Running }), nil
}

// pick chooses up to want running nodes by the planned indexes, leaving
// most of the network up (an onion path needs three nodes and a
// destination).
func (r *run) pick(ctx context.Context, idx []int, want int) ([]string, error) {
	nodes, err := r.running(ctx)
	if err != nil {
		return nil, err
	}
	limit := max(1, (len(nodes)-4)/3)
	want = min(want, limit)
	var out []string
	for _, i := range idx {
		if len(out) == want || len(nodes) <= 4 {
			break
		}
		n := nodes[i%len(nodes)]
		if !slices.Contains(out, n.Name) {
			out = append(out, n.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("too few nodes running to take one down")
	}
	return out, nil
}

// swarmMembers lists the running members of an account's swarm, by name.
func (r *run) swarmMembers(ctx context.Context, id identity.AccountID) ([]string, error) {
	sw, err := r.ledger.client().SwarmOf(ctx, id)
	if err != nil {
		return nil, err
	}
	nodes, err := r.running(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes {
		if slices.Contains(sw.Members, n.Key) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// victims are the nodes a kill or swarm fault takes down.
func (r *run) victims(ctx context.Context, f PlannedFault) ([]string, error) {
	if f.Kind == FaultKill {
		return r.pick(ctx, f.Nodes, len(f.Nodes))
	}
	members, err := r.swarmMembers(ctx, r.owner(f.Account))
	if err != nil {
		return nil, err
	}
	if len(members) < 2 {
		return nil, fmt.Errorf("the swarm of %s has %d members running", r.ownerName(f.Account), len(members))
	}
	keep := f.Keep % len(members)
	return slices.Delete(members, keep, keep+1), nil
}

// kill stops nodes; the heal restarts them.
func (r *run) kill(ctx context.Context, nodes []string) (string, func(context.Context) error, error) {
	var down []string
	var errs []error
	for _, n := range nodes {
		if err := r.cfg.Target.Kill(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("kill %s: %w", n, err))
			continue
		}
		down = append(down, n)
	}
	heal := func(ctx context.Context) error { return r.restart(ctx, down) }
	if len(down) == 0 {
		return "", nil, errors.Join(errs...)
	}
	return "killed " + strings.Join(down, ", "), heal, errors.Join(errs...)
}

// restart starts nodes again, trying each a few times.
func (r *run) restart(ctx context.Context, nodes []string) error {
	var errs []error
	for _, n := range nodes {
		var err error
		for try := 0; try < 3; try++ {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			err = r.cfg.Target.Restart(rctx, n)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// miss kills one member of a swarm while the network is asked to do what
// that swarm holds (a kick, an unsend, a config change), and restarts it
// once the operation is done: the member has missed it.
func (r *run) miss(ctx context.Context, f PlannedFault) ([]string, string, func(context.Context) error, error) {
	var down []string
	var kerr error
	killOne := func(id identity.AccountID) []string {
		members, err := r.swarmMembers(ctx, id)
		if err != nil || len(members) < 2 {
			kerr = fmt.Errorf("the swarm has too few members running (%v)", err)
			return nil
		}
		n := members[f.Keep%len(members)]
		if err := r.cfg.Target.Kill(ctx, n); err != nil {
			kerr = err
			return nil
		}
		down = []string{n}
		return down
	}
	detail := ""
	switch f.Miss {
	case "kick":
		admin := r.accounts[0]
		admin.mu.Lock()
		if !r.hasGuest() {
			r.addGuest(ctx, admin) // someone to kick
		}
		did := r.kickGuest(ctx, admin, func() []string { return killOne(r.gid) })
		admin.mu.Unlock()
		if !did {
			return nil, "", nil, errors.New("no guest to kick")
		}
		detail = "a member of the group's swarm missed a kick"
	case "unsend":
		a := r.accounts[f.Account%len(r.accounts)]
		a.mu.Lock()
		d := f.Keep % 2
		if len(a.sent[d]) == 0 {
			d = 1 - d
		}
		if len(a.sent[d]) == 0 {
			a.mu.Unlock()
			return nil, "", nil, fmt.Errorf("%s has sent nothing to unsend", a.name)
		}
		r.unsend(ctx, a, d, func(to string) []string { return killOne(r.byName[to].keys.AccountID()) })
		a.mu.Unlock()
		detail = fmt.Sprintf("a member of a recipient's swarm missed an unsend by %s", a.name)
	default:
		a := r.accounts[f.Account%len(r.accounts)]
		a.mu.Lock()
		missed := killOne(a.keys.AccountID())
		if missed != nil {
			r.config(ctx, a, f.Keep%2, missed)
		}
		a.mu.Unlock()
		detail = fmt.Sprintf("a member of %s's swarm missed a config change", a.name)
	}
	if len(down) == 0 {
		if kerr == nil {
			kerr = errors.New("no member was taken down")
		}
		return nil, "", nil, kerr
	}
	return down, detail, func(ctx context.Context) error { return r.restart(ctx, down) }, nil
}

// hasGuest reports whether a guest joined and was not kicked yet.
func (r *run) hasGuest() bool {
	r.gmu.Lock()
	defer r.gmu.Unlock()
	for _, g := range r.guests {
		if !g.kicked && g.g != nil {
			return true
		}
	}
	return false
}
