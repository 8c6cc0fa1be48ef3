package node

import (
	"context"
	"errors"
	"sync"
)

// fairQueue gives a node's requests their turns to work, per client: at
// most workers requests work at once; the others wait, each client's
// (clientKey: a libp2p peer, an HTTPS client's address) in a queue of its
// own, and each turn that frees goes to the next client in a round, not to
// whichever request came first. A client that sends 50 requests at once
// then waits behind its own, and one that sends one waits for at most one
// turn of each other client, however busy the node.
//
// A request holds its turn while it works on this node and gives it up
// when it first waits for another (a store forwarded to the swarm, an
// onion layer passed on): a turn held across the network would make nodes
// wait on each other's turns.
//
// A client may have perClient requests waiting, the node total; more are
// refused at once (errQueueFull), so the queues are bounded however many
// clients come. Safe for concurrent use.
type fairQueue struct {
	workers, perClient, total int

	mu      sync.Mutex
	busy    int                       // turns held
	waiting int                       // requests waiting, all clients
	queues  map[clientKey][]*fairTurn // clients with requests waiting, oldest first
	round   []clientKey               // those clients, in their round's order
	next    int                       // the client in round whose turn is next
}

// fairTurn is one request's turn: granted is closed when it may work.
type fairTurn struct {
	q       *fairQueue
	key     clientKey
	granted chan struct{}
	once    sync.Once
}

// Defaults of the node's queue: a turn for each core's worth of work at
// once, and a client's burst of requests (the rate limit's 600) may wait.
const (
	fairPerClient = 600
	fairTotal     = 16384
)

var errQueueFull = errors.New("too many requests waiting")

func newFairQueue(workers, perClient, total int) *fairQueue {
	return &fairQueue{workers: max(workers, 1), perClient: perClient, total: total, queues: map[clientKey][]*fairTurn{}}
}

// enter puts a request of client k in line: its turn is granted at once
// when a worker is free and nobody waits, else when its round comes.
func (q *fairQueue) enter(k clientKey) (*fairTurn, error) {
	t := &fairTurn{q: q, key: k, granted: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy < q.workers && q.waiting == 0 {
		q.busy++
		close(t.granted)
		return t, nil
	}
	line := q.queues[k]
	if len(line) >= q.perClient || q.waiting >= q.total {
		return nil, errQueueFull
	}
	if len(line) == 0 {
		q.round = append(q.round, k)
	}
	q.queues[k] = append(line, t)
	q.waiting++
	return t, nil
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
	line := q.queues[t.key]
	for i, w := range line {
		if w == t {
			line = append(line[:i], line[i+1:]...)
			q.waiting--
			break
		}
	}
	if len(line) == 0 {
		q.leaveRound(t.key)
	} else {
		q.queues[t.key] = line
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
		if len(q.round) == 0 {
			return
		}
		q.next %= len(q.round)
		k := q.round[q.next]
		line := q.queues[k]
		w := line[0]
		if len(line) == 1 {
			q.leaveRound(k)
		} else {
			q.queues[k] = line[1:]
			q.next++
		}
		q.waiting--
		q.busy++
		close(w.granted)
	})
}

// leaveRound takes client k, whose line is empty, out of the round,
// keeping next on the client after it. Called with mu held.
func (q *fairQueue) leaveRound(k clientKey) {
	delete(q.queues, k)
	for i, r := range q.round {
		if r == k {
			q.round = append(q.round[:i], q.round[i+1:]...)
			if i < q.next {
				q.next--
			}
			return
		}
	}
}

// turnKey is the context key of a request's turn.
type turnKey struct{}

// withTurn is ctx carrying the request's turn, for yieldTurn.
func withTurn(ctx context.Context, t *fairTurn) context.Context {
	return context.WithValue(ctx, turnKey{}, t)
}

// yieldTurn gives back the turn of the request ctx belongs to, if it holds
// one: it is about to wait for another node.
func yieldTurn(ctx context.Context) {
	if t, ok := ctx.Value(turnKey{}).(*fairTurn); ok {
		t.done()
	}
}
