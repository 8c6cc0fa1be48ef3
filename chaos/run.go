package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// Node is one service node as the Target sees it.
type Node struct {
	Name    string `json:"node"`
	Key     string `json:"ed25519_pubkey"`
	Running bool   `json:"running"`
}

// Target is the devnet under test. Package devnet implements it for a
// network in this process and for a devnet reached through its control
// endpoint.
type Target interface {
	// LedgerURL is the ledger RPC's URL now (a devnet resumed after a
	// crash listens elsewhere).
	LedgerURL() string
	// Servers are the file and community servers now.
	Servers() (files, community client.ServerInfo)
	// Nodes lists the nodes.
	Nodes(ctx context.Context) ([]Node, error)
	// Kill stops a node as a crash would; Restart starts it again and
	// returns once it serves.
	Kill(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// Repair runs a replica repair round on every running node it can
	// reach (nil when it cannot: the nodes repair on their own timer).
	Repair(ctx context.Context) error
	// Supports says whether the Target can make a fault of this kind
	// beyond kill, swarm and miss: "" when it can, else why not.
	Supports(kind string) string
	// Inject makes such a fault on the named nodes (the plan's choice:
	// the Target may choose others, a host's, and say so) and returns what
	// it did and how to heal it.
	Inject(ctx context.Context, f PlannedFault, nodes []string) (Injected, error)
}

// Injected is a fault a Target made.
type Injected struct {
	Detail string
	Nodes  []string // the nodes it affects, if not those named
	Heal   func(context.Context) error
}

// Config configures a run.
type Config struct {
	Target Target
	// Seed draws the plan; the same seed gives the same plan.
	Seed uint64
	// Duration of the traffic and faults; default 1 minute. The check
	// comes after.
	Duration time.Duration
	// Faults are the kinds to make; nil means every kind the Target supports.
	Faults []string
	// Clients is the number of accounts; default 4, at least 2.
	Clients int
	// OpTimeout bounds one operation: past it, its outcome is unknown.
	// Default 15 s.
	OpTimeout time.Duration
	// CheckTimeout bounds the final reads; default 60 s.
	CheckTimeout time.Duration
	// Dir is where the devices keep their groups. Required.
	Dir string
	// Logger receives the run's logs (and the clients').
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFault, if set, is told of each fault as it starts and as it is
	// healed; OnOp of each operation's outcome. They must not block.
	OnFault func(FaultEvent)
	OnOp    func(Op)
	// Plan, if set, is run instead of the seed's (a test scripts a run).
	Plan *Plan
	// BrokenKicks makes the group's admin kick without a new key
	// (group.Device.KickKeepsKey: tests of the checker).
	BrokenKicks bool
	// ClientFaults, if set, breaks a device's client (tests of the
	// checker): the device's name, as in the history.
	ClientFaults func(device string) *client.Faults
	// Ready, if set, is called once the accounts, their contacts and the
	// group are made, before the traffic (a test breaks the network then).
	Ready func()
}

// account is one of the run's accounts: two devices and its groups' device.
type account struct {
	name string
	keys *identity.Keys
	dev  [2]*client.Client
	gc   *client.Client
	gd   *group.Device
	g    *group.Group
	mu   sync.Mutex // one operation at a time
	// sent: acknowledged sends not yet taken back, by device.
	sent [2][]sentMsg
}

type sentMsg struct {
	op   int
	hash string
	to   string
}

// guest is an account added to the group, later kicked.
type guest struct {
	name   string
	c      *client.Client
	d      *group.Device
	g      *group.Group // its copy of the group once joined
	kicked bool
}

// maxGuests bounds the guests of one run.
const maxGuests = 40

type run struct {
	cfg      Config
	log      zerolog.Logger
	plan     Plan
	h        *History
	ledger   *followLedger
	accounts []*account
	byName   map[string]*account
	gid      identity.AccountID
	guests   []*guest
	gmu      sync.Mutex // guests
}

// Run runs the plan of cfg.Seed against cfg.Target, heals every fault,
// reads what the devices can, and checks the history.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Target == nil || cfg.Dir == "" {
		return nil, errors.New("chaos: Config.Target and Config.Dir are required")
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Minute
	}
	if cfg.Duration < time.Second {
		return nil, errors.New("chaos: a run lasts at least 1s")
	}
	if cfg.Clients == 0 {
		cfg.Clients = 4
	}
	if cfg.Clients < 2 || cfg.Clients > 50 {
		return nil, fmt.Errorf("chaos: %d clients: want 2 to 50", cfg.Clients)
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 15 * time.Second
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kinds, skipped := chooseFaults(cfg.Target, cfg.Faults)
	r := &run{cfg: cfg, log: cfg.Logger, byName: map[string]*account{}}
	if cfg.Plan != nil {
		r.plan = *cfg.Plan
		if len(r.plan.Ops) != cfg.Clients {
			return nil, fmt.Errorf("chaos: the plan has %d accounts' operations, not %d", len(r.plan.Ops), cfg.Clients)
		}
	} else {
		r.plan = NewPlan(cfg.Seed, cfg.Duration, cfg.Clients, kinds)
	}
	var rid [8]byte
	if _, err := rand.Read(rid[:]); err != nil {
		return nil, err
	}
	r.h = &History{Seed: cfg.Seed, RunID: hex.EncodeToString(rid[:]), Clients: cfg.Clients, Accounts: map[string][]string{}}
	r.ledger = &followLedger{t: cfg.Target}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	r.h.Start = cfg.Now().UnixMilli()
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	for i, a := range r.accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.traffic(rctx, i, a)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.faults(rctx)
	}()
	wg.Wait()
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.h.End = cfg.Now().UnixMilli()
	if err := r.final(ctx); err != nil {
		rep := newReport(r.h, r.plan, kinds, skipped)
		rep.Aborted = err.Error()
		rep.Violations, rep.ViolationCount = []Violation{}, 0
		return rep, nil
	}
	return newReport(r.h, r.plan, kinds, skipped), nil
}

// chooseFaults returns the kinds to make, and those asked for (or, with
// none asked, any) that the Target cannot make, with the reason.
func chooseFaults(t Target, asked []string) ([]string, map[string]string) {
	skipped := map[string]string{}
	var out []string
	all := asked == nil
	if all {
		asked = FaultKinds
	}
	for _, k := range asked {
		if slices.Contains(basicFaults, k) {
			out = append(out, k)
			continue
		}
		if why := t.Supports(k); why != "" {
			skipped[k] = why
			continue
		}
		out = append(out, k)
	}
	return out, skipped
}

// keysOf derives a run's account keys.
func keysOf(runID, name string) *identity.Keys {
	s := blake2b.Sum256([]byte("sessionctl-chaos\x00" + runID + "\x00" + name))
	return identity.AccountFromSeed([identity.SeedSize]byte(s[:identity.SeedSize]))
}

func (r *run) startClient(ctx context.Context, device string, keys *identity.Keys) (*client.Client, error) {
	cfg := client.Config{Keys: keys, Ledger: r.ledger, Logger: r.log.With().Str("device", device).Logger()}
	if r.cfg.ClientFaults != nil {
		cfg.Faults = r.cfg.ClientFaults(device)
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// retry runs f until it succeeds, up to a minute (setup, before the faults).
func retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	var err error
	for i := 0; i < 20; i++ {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = f(cctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(200*(i+1)) * time.Millisecond):
		}
	}
	return fmt.Errorf("chaos: %s: %w", what, err)
}

// setup makes the accounts and their devices, makes them contacts of
// each other, and makes the group with every account in it.
func (r *run) setup(ctx context.Context) error {
	nodes, err := r.cfg.Target.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("chaos: the nodes: %w", err)
	}
	r.h.Nodes = len(nodes)
	for i := range r.cfg.Clients {
		a := &account{name: "c" + strconv.Itoa(i+1)}
		a.keys = keysOf(r.h.RunID, a.name)
		for d, dev := range []string{a.name, a.name + "b"} {
			if a.dev[d], err = r.startClient(ctx, dev, a.keys); err != nil {
				return err
			}
		}
		if a.gc, err = r.startClient(ctx, a.name+"g", a.keys); err != nil {
			return err
		}
		a.gd = &group.Device{C: a.gc, Store: &group.Store{Dir: filepath.Join(r.cfg.Dir, "groups")}, Name: a.name + "g", Log: r.log}
		r.accounts = append(r.accounts, a)
		r.byName[a.name] = a
		r.h.Accounts[a.name] = []string{a.name, a.name + "b"}
		r.h.Members = append(r.h.Members, a.name+"g")
	}
	r.h.PostReader = r.accounts[0].name
	r.accounts[0].gd.KickKeepsKey = r.cfg.BrokenKicks
	for _, a := range r.accounts {
		err := retry(ctx, "make the accounts contacts", func(ctx context.Context) error {
			_, _, err := a.dev[0].UpdateConfig(ctx, configmsg.Contacts, 0, func(d configmsg.Dict) error {
				for _, o := range r.accounts {
					if o != a {
						ct := configmsg.Contact{ID: o.keys.AccountID().String(), Name: o.name, Approved: true, ApprovedMe: true, Created: time.Now().Unix()}
						if err := configmsg.SetContact(d, ct); err != nil {
							return err
						}
					}
				}
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
	}
	admin := r.accounts[0]
	var invitees []group.Invitee
	for _, a := range r.accounts[1:] {
		invitees = append(invitees, group.Invitee{ID: a.keys.AccountID(), Name: a.name})
	}
	err = retry(ctx, "make the group", func(ctx context.Context) error {
		g, err := admin.gd.Create(ctx, "chaos-"+r.h.RunID, invitees)
		if err == nil {
			admin.g = g
		}
		return err
	})
	if err != nil {
		return err
	}
	r.gid = admin.g.Account()
	for _, a := range r.accounts[1:] {
		if err := retry(ctx, a.name+" joins the group", func(ctx context.Context) error { return r.join(ctx, a.gd, &a.g) }); err != nil {
			return err
		}
	}
	return nil
}

// join takes the run's group's invite from d's inbox and joins it.
func (r *run) join(ctx context.Context, d *group.Device, into **group.Group) error {
	if *into == nil {
		in, err := d.ReadInbox(ctx)
		if err != nil {
			return err
		}
		for _, g := range in.Invited {
			if g.ID == r.gid.String() {
				*into = g
			}
		}
		if *into == nil {
			return errors.New("no invite yet")
		}
	}
	return d.Join(ctx, *into)
}

func (r *run) close() {
	for _, a := range r.accounts {
		for _, c := range a.dev {
			if c != nil {
				c.Close()
			}
		}
		if a.gc != nil {
			a.gc.Close()
		}
	}
	for _, g := range r.guests {
		g.c.Close()
	}
}

// text is what an operation's message says: the run and the operation.
func (r *run) text(op int) string { return fmt.Sprintf("chaos %s #%d", r.h.RunID, op) }

// opOf reads the operation a text names (0: none of this run's).
func (r *run) opOf(text string) int {
	rest, ok := strings.CutPrefix(text, "chaos "+r.h.RunID+" #")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 0
	}
	return n
}

// outcomeOf classifies an operation's error.
func outcomeOf(err error) Outcome {
	if err == nil {
		return Acked
	}
	var se *storagerpc.Error
	var ce *community.RefusedError
	switch {
	case errors.As(err, &se) && se.Code >= 400 && se.Code < 500:
		return Refused
	case errors.As(err, &ce) && ce.Code >= 400 && ce.Code < 500:
		return Refused
	case errors.Is(err, client.ErrNotSent), errors.Is(err, group.ErrNotMember), errors.Is(err, group.ErrKicked),
		errors.Is(err, group.ErrNotAdmin), errors.Is(err, group.ErrAlready), errors.Is(err, group.ErrTooMany):
		return Refused
	}
	return Unknown
}

// do records an operation around f, which returns the message's hash (if
// any) and whether extra holds (Op.Synced).
func (r *run) do(ctx context.Context, op Op, f func(ctx context.Context, id int) (string, error)) (int, error) {
	id := r.h.begin(op, r.cfg.Now())
	if id == 0 {
		return 0, errors.New("the history is full")
	}
	octx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	hash, err := f(octx, id)
	cancel()
	out := outcomeOf(err)
	if err != nil && ctx.Err() != nil {
		out = Unknown
	}
	r.h.finish(id, r.cfg.Now(), out, err, hash)
	if r.cfg.OnOp != nil {
		if o, ok := r.h.op(id); ok {
			r.cfg.OnOp(o)
		}
	}
	return id, err
}

// traffic runs account i's planned operations until ctx ends.
func (r *run) traffic(ctx context.Context, i int, a *account) {
	for _, p := range r.plan.Ops[i] {
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Pause):
		}
		a.mu.Lock()
		r.step(ctx, a, p)
		a.mu.Unlock()
	}
}

// step does one planned operation (a.mu held).
func (r *run) step(ctx context.Context, a *account, p PlannedOp) {
	dev := a.name
	if p.Device == 1 {
		dev += "b"
	}
	c := a.dev[p.Device]
	switch p.Kind {
	case OpSend:
		to := r.accounts[p.To]
		r.send(ctx, a, p.Device, to, p.Attach)
	case OpFetch:
		r.fetch(ctx, dev, c)
		r.groupFetch(ctx, a.name+"g", a.gd, a.g)
		if a == r.accounts[0] {
			r.guestFetch(ctx)
		}
	case OpUnsend:
		r.unsend(ctx, a, p.Device, nil)
	case OpConfig:
		r.config(ctx, a, p.Device, nil)
	case OpPost:
		r.do(ctx, Op{Kind: OpPost, Device: dev, Target: "lobby"}, func(ctx context.Context, id int) (string, error) {
			_, srv := r.cfg.Target.Servers()
			cc, err := community.NewClient(c, srv)
			if err != nil {
				return "", err
			}
			m, err := cc.Post(ctx, "lobby", community.Content{Text: r.text(id)})
			if err != nil {
				return "", err
			}
			return strconv.FormatInt(m.ID, 10), nil
		})
	case OpGroupSend:
		if a.g == nil {
			return
		}
		r.do(ctx, Op{Kind: OpGroupSend, Device: a.name + "g", Target: "group"}, func(ctx context.Context, id int) (string, error) {
			return "", a.gd.Send(ctx, a.g, r.text(id))
		})
	case OpGroupAdd:
		r.addGuest(ctx, a)
	case OpGroupKick:
		r.kickGuest(ctx, a, nil)
	}
}

// send sends a one-to-one message, with a file if attach.
func (r *run) send(ctx context.Context, a *account, d int, to *account, attach bool) {
	dev := a.name
	if d == 1 {
		dev += "b"
	}
	var res *client.SendResult
	id, err := r.do(ctx, Op{Kind: OpSend, Device: dev, Target: to.name, Attach: attach}, func(ctx context.Context, id int) (string, error) {
		content := client.Content{Text: r.text(id)}
		if attach {
			files, _ := r.cfg.Target.Servers()
			data := make([]byte, 512+id%2048)
			rand.Read(data)
			att, err := a.dev[d].Upload(ctx, files, fmt.Sprintf("chaos-%d.bin", id), data)
			if err != nil {
				return "", err
			}
			content.Attachments = []client.Attachment{*att}
		}
		var err error
		res, err = a.dev[d].SendContent(ctx, to.keys.AccountID(), content)
		if err != nil {
			return "", err
		}
		return res.Hash, nil
	})
	if err == nil && res != nil {
		r.h.setSynced(id, res.Synced)
		a.sent[d] = append(a.sent[d], sentMsg{op: id, hash: res.Hash, to: to.name})
		if len(a.sent[d]) > 100 {
			a.sent[d] = a.sent[d][1:]
		}
	}
}

// unsend takes back the device's newest acknowledged message; before, if
// set, runs once the message is chosen (a fault kills what it must miss).
func (r *run) unsend(ctx context.Context, a *account, d int, before func(to string) []string) {
	if len(a.sent[d]) == 0 {
		return
	}
	m := a.sent[d][len(a.sent[d])-1]
	a.sent[d] = a.sent[d][:len(a.sent[d])-1]
	dev := a.name
	if d == 1 {
		dev += "b"
	}
	var missed []string
	if before != nil {
		missed = before(m.to)
	}
	var res *client.UnsendResult
	id, _ := r.do(ctx, Op{Kind: OpUnsend, Device: dev, Target: m.to, Ref: m.op}, func(ctx context.Context, id int) (string, error) {
		var err error
		res, err = a.dev[d].Unsend(ctx, m.hash)
		if err != nil {
			return "", err
		}
		return res.Request, nil
	})
	if res != nil {
		r.h.setSynced(id, res.SyncDeleted)
	}
	r.h.setMissed(id, missed)
}

// config sets the account's profile name from one of its devices.
func (r *run) config(ctx context.Context, a *account, d int, missed []string) {
	dev := a.name
	if d == 1 {
		dev += "b"
	}
	id, _ := r.do(ctx, Op{Kind: OpConfig, Device: dev, Target: a.name}, func(ctx context.Context, id int) (string, error) {
		push, _, err := a.dev[d].UpdateConfig(ctx, configmsg.UserProfile, 0, func(dict configmsg.Dict) error {
			return configmsg.SetProfileName(dict, fmt.Sprintf("%s-%d", a.name, id))
		})
		if err != nil {
			return "", err
		}
		return push.Hash, nil
	})
	r.h.setMissed(id, missed)
}

// addGuest adds a new guest account to the group, and has it join.
func (r *run) addGuest(ctx context.Context, a *account) {
	r.gmu.Lock()
	n := len(r.guests)
	r.gmu.Unlock()
	if n >= maxGuests || a.g == nil {
		return
	}
	name := "g" + strconv.Itoa(n+1)
	keys := keysOf(r.h.RunID, name)
	c, err := r.startClient(ctx, name, keys)
	if err != nil {
		return
	}
	gu := &guest{name: name, c: c, d: &group.Device{C: c, Store: &group.Store{Dir: filepath.Join(r.cfg.Dir, "groups")}, Name: name, Log: r.log}}
	r.gmu.Lock()
	r.guests = append(r.guests, gu)
	r.gmu.Unlock()
	_, err = r.do(ctx, Op{Kind: OpGroupAdd, Device: a.name + "g", Target: name}, func(ctx context.Context, id int) (string, error) {
		return "", a.gd.Add(ctx, a.g, []group.Invitee{{ID: keys.AccountID(), Name: name}}, false)
	})
	if err != nil {
		return
	}
	// The guest joins (its invite may take a few reads to arrive).
	r.do(ctx, Op{Kind: OpGroupJoin, Device: name, Target: "group"}, func(ctx context.Context, id int) (string, error) {
		for {
			err := r.join(ctx, gu.d, &gu.g)
			if err == nil || ctx.Err() != nil {
				return "", err
			}
			select {
			case <-ctx.Done():
				return "", err
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// kickGuest kicks the oldest guest that joined and was not kicked; before,
// if set, runs first (a fault kills what it must miss).
func (r *run) kickGuest(ctx context.Context, a *account, before func() []string) bool {
	r.gmu.Lock()
	var gu *guest
	for _, g := range r.guests {
		if !g.kicked && g.g != nil {
			gu = g
			break
		}
	}
	if gu != nil {
		gu.kicked = true
	}
	r.gmu.Unlock()
	if gu == nil || a.g == nil {
		return false
	}
	var missed []string
	if before != nil {
		missed = before()
	}
	id, _ := r.do(ctx, Op{Kind: OpGroupKick, Device: a.name + "g", Target: gu.name}, func(ctx context.Context, id int) (string, error) {
		return "", a.gd.Kick(ctx, a.g, []identity.AccountID{gu.c.AccountID()}, false)
	})
	r.h.setMissed(id, missed)
	return true
}

// fetch reads a device's inbox and records what it showed.
func (r *run) fetch(ctx context.Context, dev string, c *client.Client) {
	var msgs []client.Message
	start := r.cfg.Now().UnixMilli()
	id, _ := r.do(ctx, Op{Kind: OpFetch, Device: dev}, func(ctx context.Context, id int) (string, error) {
		var err error
		msgs, _, err = c.Fetch(ctx)
		return "", err
	})
	var shown []Shown
	for _, m := range msgs {
		op := r.opOf(m.Text)
		if op == 0 {
			continue
		}
		kind := "dm"
		switch {
		case m.SyncTarget != "":
			kind = "sync"
		case m.Request:
			kind = "request"
		}
		shown = append(shown, Shown{Device: dev, Op: op, Kind: kind, Fetch: id, Start: start, Hash: m.Hash})
	}
	r.h.show(shown)
}

// groupFetch reads the group as a device and records what it showed.
func (r *run) groupFetch(ctx context.Context, dev string, d *group.Device, g *group.Group) error {
	if g == nil {
		return nil
	}
	var msgs []group.Message
	var bad []group.Unreadable
	start := r.cfg.Now().UnixMilli()
	id, err := r.do(ctx, Op{Kind: OpFetch, Device: dev, Target: "group"}, func(ctx context.Context, id int) (string, error) {
		var err error
		msgs, bad, err = d.Fetch(ctx, g)
		return "", err
	})
	if len(bad) > 0 {
		var why []string
		for _, b := range bad {
			why = append(why, b.Reason)
		}
		r.h.setValue(id, fmt.Sprintf("%d unreadable: %s", len(bad), strings.Join(why, "; ")))
	}
	var shown []Shown
	for _, m := range msgs {
		if op := r.opOf(m.Text); op != 0 {
			shown = append(shown, Shown{Device: dev, Op: op, Kind: "group", Fetch: id, Start: start, Hash: m.Hash})
		}
	}
	r.h.show(shown)
	return err
}

// guestFetch has each guest read the group (kicked ones too: they must
// read nothing new).
func (r *run) guestFetch(ctx context.Context) {
	r.gmu.Lock()
	gs := slices.Clone(r.guests)
	r.gmu.Unlock()
	for _, g := range gs {
		if g.g != nil {
			r.groupFetch(ctx, g.name, g.d, g.g)
		}
	}
}

// followLedger is the Target's ledger wherever it now listens.
type followLedger struct {
	t   Target
	mu  sync.Mutex
	url string
	c   *ledgerrpc.Client
}

func (l *followLedger) client() *ledgerrpc.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.t.LedgerURL(); u != l.url || l.c == nil {
		l.url, l.c = u, ledgerrpc.NewClient(u, "")
	}
	return l.c
}

func (l *followLedger) Info(ctx context.Context) (chain.Info, error) { return l.client().Info(ctx) }
func (l *followLedger) Nodes(ctx context.Context) ([]chain.ServiceNode, error) {
	return l.client().Nodes(ctx)
}
