package node

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"
)

// fairQueue gives a node's requests their turns to work, per client: at
// most workers requests work at once; the others wait, each client's
// (clientKey: a libp2p peer, an HTTPS client's address) in a queue of its
// own, and each turn that frees goes to the next client in a round, not to
// whichever request came first. A client that sends 50 requests at once
// then waits behind its own, and one that sends one waits for at most one
// turn of each other client, however busy the node.
//
// Work already under way in the network goes first: each request has a
// class, how far its operation has come (an onion layer two hops in, a
// store a member replicates: onionClass, swarmClass), and a turn that
// frees goes to the highest class with a request waiting, the clients of
// each class in rounds of their own. A client's new request thus waits
// behind the later steps of requests that entered the network before it,
// not they behind it: an operation's steps are not each queued anew behind
// the newest work, which made a send's time the sum of a dozen queues'
// chances.
//
// A request holds its turn while it works on this node and gives it up
// when it first waits for another (a store forwarded to the swarm, an
// onion layer passed on): a turn held across the network would make nodes
// wait on each other's turns.
//
// One queue may serve the nodes of one process (Turns): their requests
// then share its workers, the process's CPUs, and each node's clients have
// lines of their own (a lineKey is the node and the client).
//
// A client may have perClient requests waiting (in a class), each node
// total; more are refused at once (errQueueFull), so the queues are
// bounded however many clients come. Safe for concurrent use.
type fairQueue struct {
	workers, perClient, total int

	mu        sync.Mutex
	busy      int            // turns held
	waiting   int            // requests waiting, all classes, nodes and clients
	waitingAt map[string]int // requests waiting, by node (those with any)
	classes   [fairClasses]fairClass
}

// lineKey names a line: a client of a node (node "" for a queue of one).
type lineKey struct {
	node   string
	client clientKey
}

// fairClass holds the requests of one class waiting, each client's in a
// line of its own.
type fairClass struct {
	queues map[lineKey][]*fairTurn // clients with requests waiting, oldest first
	round  []lineKey               // those clients, the next first
}

// fairTurn is one request's turn: granted is closed when it may work.
type fairTurn struct {
	q       *fairQueue
	class   int
	key     lineKey
	granted chan struct{} // grantedAtOnce when no request waited
	once    sync.Once
	ctx     context.Context // the request's, once it holds the turn (withTurn)
}

// grantedAtOnce is the granted of every turn given as it was asked for: a
// channel of its own only for those that wait.
var grantedAtOnce = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// fairClasses are the classes of requests: a turn that frees goes to a
// waiting request of the highest class. Work already under way in the
// network goes before new work: a request's class is how far its operation
// has gone (onionClass, swarmClass).
const fairClasses = 6

// Defaults of the node's queue: a turn for each core's worth of work at
// once, and a client's burst of requests (the rate limit's 600) may wait.
const (
	fairPerClient = 600
	fairTotal     = 16384
)

var errQueueFull = errors.New("too many requests waiting")

func newFairQueue(workers, perClient, total int) *fairQueue {
	q := &fairQueue{workers: max(workers, 1), perClient: perClient, total: total, waitingAt: map[string]int{}}
	for i := range q.classes {
		q.classes[i].queues = map[lineKey][]*fairTurn{}
	}
	return q
}

// enter puts a request of client from of node node, of class c, in line:
// its turn is granted at once when a worker is free and nobody waits, else
// when its round comes, after every request of a higher class.
func (q *fairQueue) enter(node string, from clientKey, c int) (*fairTurn, error) {
	t := new(fairTurn)
	if err := q.enterTurn(t, node, from, c); err != nil {
		return nil, err
	}
	return t, nil
}

// enterTurn is enter with the turn t, new (its zero value), that the
// caller holds (a request's admission: one allocation for its turn and its
// body's bytes).
func (q *fairQueue) enterTurn(t *fairTurn, node string, from clientKey, c int) error {
	c = min(max(c, 0), fairClasses-1)
	k := lineKey{node, from}
	t.q, t.class, t.key = q, c, k
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy < q.workers && q.waiting == 0 {
		q.busy++
		t.granted = grantedAtOnce
		return nil
	}
	cl := &q.classes[c]
	line := cl.queues[k]
	if len(line) >= q.perClient || q.waitingAt[node] >= q.total {
		return errQueueFull
	}
	t.granted = make(chan struct{})
	if len(line) == 0 {
		cl.round = append(cl.round, k)
	}
	cl.queues[k] = append(line, t)
	q.waiting++
	q.waitingAt[node]++
	return nil
}

// left counts a request of line k out of the waiting. Called with mu held.
func (q *fairQueue) left(k lineKey) {
	q.waiting--
	if q.waitingAt[k.node]--; q.waitingAt[k.node] == 0 {
		delete(q.waitingAt, k.node)
	}
}

// wait waits for the turn; on ctx's end it leaves the line (or gives the
// turn back, if it came meanwhile) and returns ctx's error.
func (t *fairTurn) wait(ctx context.Context) error {
	select { // a turn that came is taken, whatever ctx says
	case <-t.granted:
		return nil
	default:
	}
	select {
	case <-t.granted:
		return nil
	case <-ctx.Done():
	}
	q := t.q
	q.mu.Lock()
	select {
	case <-t.granted: // granted meanwhile: give it to the next
		q.mu.Unlock()
		t.done()
		return ctx.Err()
	default:
	}
	cl := &q.classes[t.class]
	line := cl.queues[t.key]
	for i, w := range line {
		if w == t {
			line = append(line[:i], line[i+1:]...)
			q.left(t.key)
			break
		}
	}
	if len(line) == 0 {
		cl.leaveRound(t.key)
	} else {
		cl.queues[t.key] = line
	}
	q.mu.Unlock()
	return ctx.Err()
}

// done gives the turn back, once (later calls do nothing): to the next
// client in the round that has a request waiting.
func (t *fairTurn) done() {
	t.once.Do(func() {
		q := t.q
		q.mu.Lock()
		defer q.mu.Unlock()
		q.busy--
		q.grant()
	})
}

// grant gives the turns free to the requests next in line: of the highest
// class waiting, the next client in its round. Called with mu held.
func (q *fairQueue) grant() {
	for q.busy < q.workers {
		c := len(q.classes) - 1
		for c >= 0 && len(q.classes[c].round) == 0 {
			c--
		}
		if c < 0 {
			return
		}
		cl := &q.classes[c]
		k := cl.round[0]
		line := cl.queues[k]
		w := line[0]
		if len(line) == 1 {
			cl.leaveRound(k)
		} else {
			// Served, the client goes to the round's end, behind those
			// waiting now: clients that come later line up behind it.
			cl.queues[k] = line[1:]
			cl.round = append(cl.round[1:], k)
		}
		q.left(k)
		q.busy++
		close(w.granted)
	}
}

// leaveRound takes client k, whose line is empty, out of the round.
// Called with mu held.
func (cl *fairClass) leaveRound(k lineKey) {
	delete(cl.queues, k)
	if i := slices.Index(cl.round, k); i >= 0 {
		cl.round = slices.Delete(cl.round, i, i+1)
	}
}

// turnKey is the context key of a request's turn.
type turnKey struct{}

// withTurn is ctx carrying the request's turn t, for yieldTurn: t itself
// is that context (turnContext), no context.WithValue of its own for each
// request.
func withTurn(ctx context.Context, t *fairTurn) context.Context {
	t.ctx = ctx
	return (*turnContext)(t)
}

// turnContext is a turn as the context of its request: ctx, whose Value
// of turnKey is the turn.
type turnContext fairTurn

func (c *turnContext) Deadline() (time.Time, bool) { return c.ctx.Deadline() }
func (c *turnContext) Done() <-chan struct{}       { return c.ctx.Done() }
func (c *turnContext) Err() error                  { return c.ctx.Err() }

func (c *turnContext) Value(key any) any {
	if _, ok := key.(turnKey); ok {
		return (*fairTurn)(c)
	}
	return c.ctx.Value(key)
}

// yieldTurn gives back the turn of the request ctx belongs to, if it holds
// one: it is about to wait for another node.
func yieldTurn(ctx context.Context) {
	if t, ok := ctx.Value(turnKey{}).(*fairTurn); ok {
		t.done()
	}
}

// The classes of requests (fairQueue): new work, a client's request or
// one that a node starts of its own (a test, a repair, a push), is
// classNew; an onion layer forwarded by a node is one class higher for
// each hop it has come (onionClass); a client's request a swarm member
// forwarded to the others (a store replicated) is the highest, the last
// step of its operation.
const (
	classNew     = 0
	classReplica = fairClasses - 1
)

// onionClass is the class of an onion layer a node forwarded as hop hop
// (2 for the middle, 3 for the exit, 4 for the destination).
func onionClass(hop int) int {
	return min(max(hop-1, classNew), classReplica-1)
}

// swarmClass is the class of a request of the swarm protocol: a client's
// request replicated by a member (store, delete, ...) is classReplica; the
// members' own work (push, storage_sample and storage_test, repair_*,
// revocations) is classNew. The method is read where storagerpc.EncodeRequest
// writes it, first; a body written otherwise is classNew.
func swarmClass(body []byte) int {
	const prefix = `{"method":"`
	if !bytes.HasPrefix(body, []byte(prefix)) {
		return classNew
	}
	rest := body[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return classNew
	}
	switch string(rest[:end]) {
	case "push", "storage_sample", "storage_test", "repair_digest", "repair_list", "repair_fetch", "revocations":
		return classNew
	}
	return classReplica
}

// Turns are the turns to work that the nodes of one process share
// (Config.Turns): at most workers of their requests work at once, as the
// process's CPUs are theirs, and one more for every nodesPerTurn nodes
// sharing them; each node's clients in lines of their own, work already
// under way first (fairQueue). A devnet's nodes share one: with a queue
// each (two turns a node), a 12-node devnet let 24 requests and the
// streams' goroutines share 2 CPUs, every step of a send waited in Go's
// run queue behind dozens of others, and one step that waited long made
// its send slow; with one queue the steps wait in it, work under way
// first.
type Turns struct {
	q           *fairQueue
	base, nodes int // workers without nodes; the nodes sharing (join)
}

// nodesPerTurn is how many nodes sharing Turns add a turn to the process's
// CPUs: a request holds its turn while it waits for its node's database
// (one connection, which the node's repair, expiry and tests use too), and
// the more nodes, the more of those waits at once. With GOMAXPROCS turns
// alone, a 200-node devnet's sends took 554 ms (p50) while testing rounds
// ran, against 32 ms with a queue a node and 25 ms with 8 turns.
const nodesPerTurn = 25

// NewTurns returns turns for workers requests at once (0: GOMAXPROCS), and
// one more for every nodesPerTurn nodes that share them; each node with
// its own bounds (a client's burst, the node's total waiting).
func NewTurns(workers int) *Turns {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Turns{q: newFairQueue(workers, fairPerClient, fairTotal), base: workers}
}

// join counts a node in (leave out): the workers follow.
func (t *Turns) join()  { t.count(1) }
func (t *Turns) leave() { t.count(-1) }

func (t *Turns) count(d int) {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	t.nodes += d
	q.workers = t.base + t.nodes/nodesPerTurn
	q.grant()
}
