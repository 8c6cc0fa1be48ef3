package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// final brings every node back, lets the swarms repair, and asks the
// network what the checker needs: every device reads until it has what it
// must show (or the time is up), the configs, the kicked members' probes,
// the nodes' ledger heads.
func (r *run) final(parent context.Context) error {
	phase := func(d time.Duration, f func(ctx context.Context)) {
		ctx, cancel := context.WithTimeout(parent, d)
		defer cancel()
		f(ctx)
	}
	phase(r.cfg.CheckTimeout, r.heal)
	// A network that is gone (a devnet that could not be resumed) is not
	// checked: what it lost is not its replicas' doing.
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	_, err := r.cfg.Target.Nodes(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("the network is gone, so nothing was checked: %w", err)
	}
	phase(r.cfg.CheckTimeout, r.readAll)
	phase(30*time.Second, r.readPosts)
	phase(r.cfg.CheckTimeout, r.readConfigs)
	phase(30*time.Second, r.probeKicked)
	phase(15*time.Second, r.readHeads)
	return nil
}

// heal starts every node that is not running.
func (r *run) heal(ctx context.Context) {
	if nodes, err := r.cfg.Target.Nodes(ctx); err == nil {
		var down []string
		for _, n := range nodes {
			if !n.Running {
				down = append(down, n.Name)
			}
		}
		if err := r.restart(ctx, down); err != nil {
			r.log.Warn().Err(err).Msg("nodes not restarted for the check")
		}
	}
}

// missing counts, per device, the operations it must show and has not.
func (r *run) missing() map[string]int {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	seen := map[[2]any]bool{}
	for _, s := range r.h.Shown {
		seen[[2]any{s.Device, s.Op}] = true
	}
	tried := map[int]bool{}
	for _, op := range r.h.Ops {
		if op.Kind == OpUnsend {
			tried[op.Ref] = true
		}
	}
	out := map[string]int{}
	for _, op := range r.h.Ops {
		if op.Outcome != Acked || tried[op.ID] || op.Kind == OpPost || !carriesMessage(op.Kind) {
			continue
		}
		for d := range r.h.readers(op) {
			if !seen[[2]any{d, op.ID}] {
				out[d]++
			}
		}
	}
	return out
}

// readAll has every device (and every guest) read until none misses what
// it must show, or the context ends; then once more, for what came late.
func (r *run) readAll(ctx context.Context) {
	for round := 0; ctx.Err() == nil; round++ {
		r.cfg.Target.Repair(ctx)
		for _, a := range r.accounts {
			r.fetch(ctx, a.name, a.dev[0])
			r.fetch(ctx, a.name+"b", a.dev[1])
			r.groupFetch(ctx, a.name+"g", a.gd, a.g)
		}
		r.guestFetch(ctx)
		if len(r.missing()) == 0 && round > 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// readPosts reads the lobby once, whole, as the post reader.
func (r *run) readPosts(ctx context.Context) {
	c := r.accounts[0].dev[0]
	start := r.cfg.Now().UnixMilli()
	for ctx.Err() == nil {
		_, srv := r.cfg.Target.Servers()
		cc, err := community.NewClient(c, srv)
		if err != nil {
			return
		}
		var shown []Shown
		since := int64(0)
		for page := 0; page < 1000; page++ {
			msgs, err := cc.Read(ctx, "lobby", since)
			if err != nil {
				shown = nil
				break
			}
			for _, m := range msgs {
				since = max(since, m.Seqno)
				if op := r.opOf(m.Text()); op != 0 {
					shown = append(shown, Shown{Device: r.h.PostReader, Op: op, Kind: "post", Start: start})
				}
			}
			if len(msgs) < 256 {
				r.h.show(shown)
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// readConfigs reads each account's profile config from both devices,
// again until they agree or the context ends.
func (r *run) readConfigs(ctx context.Context) {
	var all []DeviceConfig
	for _, a := range r.accounts {
		var got []DeviceConfig
		for ctx.Err() == nil {
			got = got[:0]
			for d, dev := range []string{a.name, a.name + "b"} {
				dc := DeviceConfig{Account: a.name, Device: dev}
				cctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
				cfg, err := a.dev[d].LoadConfig(cctx, configmsg.UserProfile)
				cancel()
				if err != nil {
					dc.Err = err.Error()
				} else {
					dc.Name = configmsg.ReadProfile(cfg.Data()).Name
					if cfg.Message != nil {
						dc.Seqno = cfg.Message.Seqno()
					}
				}
				got = append(got, dc)
			}
			if got[0].Err == "" && got[1].Err == "" && got[0].Name == got[1].Name && got[0].Seqno == got[1].Seqno {
				break
			}
			r.cfg.Target.Repair(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		all = append(all, got...)
	}
	r.h.mu.Lock()
	r.h.Final.Configs = all
	r.h.mu.Unlock()
}

// probeKicked asks every member of the group's swarm, as each guest whose
// kick was acknowledged, to let it read the group.
func (r *run) probeKicked(ctx context.Context) {
	members, err := r.swarmMembers(ctx, r.gid)
	if err != nil {
		return
	}
	nodes, _ := r.running(ctx)
	keyOf := map[string]string{}
	for _, n := range nodes {
		keyOf[n.Name] = n.Key
	}
	r.h.mu.Lock()
	ops := slices.Clone(r.h.Ops)
	r.h.mu.Unlock()
	var probes []Probe
	for _, op := range ops {
		if op.Kind != OpGroupKick || op.Outcome != Acked {
			continue
		}
		var gu *guest
		for _, g := range r.guests {
			if g.name == op.Target {
				gu = g
			}
		}
		if gu == nil || gu.g == nil {
			continue
		}
		for _, m := range members {
			p := Probe{Kick: op.ID, Member: gu.name, Node: m}
			for try := 0; try < 3; try++ {
				pctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
				err := gu.d.Probe(pctx, gu.g, keyOf[m])
				cancel()
				var se *storagerpc.Error
				switch {
				case err == nil:
					p.Served, p.Err = true, ""
				case errors.As(err, &se):
					p.Err = se.Error()
				case errors.Is(err, group.ErrNotMember):
					p.Err = err.Error() // the device holds no token to try
				default:
					p.Err = err.Error()
					continue // no answer: ask again
				}
				break
			}
			probes = append(probes, p)
		}
	}
	r.h.mu.Lock()
	r.h.Final.Probes = probes
	r.h.mu.Unlock()
}

// readHeads asks each running node how far its view of the ledger
// reached, round after round, until each has reached the ledger's height
// read first (or the context ends).
func (r *run) readHeads(ctx context.Context) {
	info, err := r.ledger.Info(ctx)
	if err != nil {
		return
	}
	nodes, err := r.running(ctx)
	if err != nil {
		return
	}
	c := r.accounts[0].dev[0]
	heads := make([]NodeHead, len(nodes))
	for i, n := range nodes {
		heads[i] = NodeHead{Node: n.Name, Err: "not asked"}
	}
	for ctx.Err() == nil {
		behind := 0
		for i, n := range nodes {
			if heads[i].Err == "" && heads[i].Height >= info.Height {
				continue
			}
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			// Past a healed partition the client's host may still back off
			// from dialing a node it could not reach (libp2p backs off for
			// longer than this phase lasts): the check dials regardless.
			hctx = network.WithForceDirectDial(hctx, "chaos: reading heads after the faults healed")
			resp, err := c.Direct(hctx, n.Key, "info", struct{}{})
			cancel()
			var out struct {
				Height uint64 `json:"height"`
			}
			if err == nil {
				err = resp.Decode(&out)
			}
			if err != nil {
				heads[i].Err = err.Error()
			} else {
				heads[i].Height, heads[i].Err = out.Height, ""
			}
			if err != nil || out.Height < info.Height {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
	r.h.mu.Lock()
	r.h.Final.LedgerHeight, r.h.Final.Heads = info.Height, heads
	r.h.mu.Unlock()
}
