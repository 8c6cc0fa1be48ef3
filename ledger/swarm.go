package ledger

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/sessionctl/sessionctl/chain"
	"golang.org/x/crypto/chacha20"
)

// Swarm sizes of SPEC 3.
const (
	SwarmMin    = 5  // Nmin: below it a swarm steals nodes or is dissolved
	SwarmTarget = 7  // Ntarget: the size of a new swarm
	SwarmMax    = 10 // Nmax: no swarm grows past it once there are 12 active nodes
)

// newSwarmID returns the midpoint of the largest gap between the sorted ids
// on the ring, the gap that wraps past 2^64 included; the first swarm is 0.
// On equal gaps the one starting at the lowest id wins.
func newSwarmID(ids []uint64) uint64 {
	if len(ids) == 0 {
		return 0
	}
	if len(ids) == 1 {
		return ids[0] + 1<<63 // the whole ring is one gap
	}
	bestStart, bestGap := uint64(0), uint64(0)
	for i, id := range ids {
		next := ids[(i+1)%len(ids)]
		gap := next - id // wraps for the last id
		if gap > bestGap {
			bestStart, bestGap = id, gap
		}
	}
	return bestStart + bestGap/2
}

// rng is the deterministic randomness of one swarm recomputation: a ChaCha20
// stream keyed by the block hash, so every reader of the chain draws the same
// numbers.
type rng struct {
	c   *chacha20.Cipher
	buf [8]byte
}

func newRNG(seed [32]byte, label string) *rng {
	nonce := make([]byte, chacha20.NonceSize)
	copy(nonce, label)
	c, err := chacha20.NewUnauthenticatedCipher(seed[:], nonce)
	if err != nil {
		panic("ledger: chacha20 key and nonce sizes are fixed: " + err.Error())
	}
	return &rng{c: c}
}

func (r *rng) uint64() uint64 {
	clear(r.buf[:])
	r.c.XORKeyStream(r.buf[:], r.buf[:])
	return binary.LittleEndian.Uint64(r.buf[:])
}

// intn returns a uniform number in [0, n) by rejection sampling.
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("ledger: intn of a non-positive bound")
	}
	un := uint64(n)
	limit := math.MaxUint64 - math.MaxUint64%un
	for {
		if v := r.uint64(); v < limit {
			return int(v % un)
		}
	}
}

func (r *rng) shuffle(s []string) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// Swarms is an assignment of nodes to swarms: swarm id -> member node keys,
// each member list sorted.
type Swarms map[uint64][]string

// IDs returns the swarm ids, sorted.
func (s Swarms) IDs() []uint64 {
	ids := make([]uint64, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Clone returns a deep copy.
func (s Swarms) Clone() Swarms {
	out := make(Swarms, len(s))
	for id, m := range s {
		out[id] = slices.Clone(m)
	}
	return out
}

// RecomputeSwarms returns the swarms after the active set becomes active,
// starting from prev and drawing randomness from seed (the block hash). It is
// the algorithm of SPEC 3 and oxen-core, in this order:
//
//  1. nodes no longer active leave their swarms; active nodes in no swarm
//     (new or recommissioned) join, in random order, a random swarm among
//     the smallest; with no swarm at all, swarm 0 is made;
//  2. a swarm below Nmin steals a random node from the largest swarm with a
//     spare node (size > Nmin), until it has Nmin or no spare is left;
//  3. when more than one swarm exists, the smallest swarm below Nmin is
//     dissolved and its nodes join random smallest swarms, one at a time;
//     then back to 2, until no swarm is below Nmin or one swarm is left;
//  4. a new swarm of exactly Ntarget is formed while the spare nodes (the sum
//     of size - Nmin) reach Ntarget + 2 per existing swarm (oxen-core's
//     threshold, which leaves each swarm a margin of 2), each node drawn at
//     random from the currently largest swarm (ties broken at random); its
//     id is the midpoint of the largest gap on the ring;
//  5. the Nmax bound, below.
//
// How Nmax bounds growth. oxen-core's threshold alone lets a lone swarm grow
// to 13 nodes before it splits, and a dissolution can push swarms past Nmax.
// So step 4 also forms a new swarm whenever a swarm is above Nmax and the
// spare reaches Ntarget, whatever the margin; and step 5, while a swarm has
// more than Nmax nodes, moves a random node of it to the smallest swarm not
// formed in this block. Nodes join only the smallest swarms and new swarms
// take from the largest, so the one shape step 4 leaves above Nmax is a swarm
// of 11 beside swarms of exactly Nmin, which step 5 evens out. Hence with 12
// or more active nodes no swarm exceeds Nmax; with 11, a lone swarm holds
// them all. Steps 4 and 5 never take a swarm below Nmin.
//
// New swarms give no nodes in the block they are formed, so each keeps the
// Ntarget nodes it starts with, but for one case that arithmetic forces: a
// lone old swarm that receives many nodes at once (5 + 20 = 25 nodes cannot be
// split into swarms of 7 and one of 5 to 10). Then the old swarm keeps 11
// after the new swarms are formed, and step 5 moves one node into a new swarm.
func RecomputeSwarms(prev Swarms, active []string, seed [32]byte) Swarms {
	r := newRNG(seed, "swarms")
	isActive := make(map[string]bool, len(active))
	for _, k := range active {
		isActive[k] = true
	}
	sw := make(Swarms, len(prev))
	placed := make(map[string]bool, len(active))
	for _, id := range prev.IDs() {
		var keep []string
		for _, k := range prev[id] {
			if isActive[k] && !placed[k] {
				keep = append(keep, k)
				placed[k] = true
			}
		}
		sw[id] = keep
	}
	var fresh []string
	for _, k := range active {
		if !placed[k] {
			fresh = append(fresh, k)
		}
	}
	slices.Sort(fresh)
	fresh = slices.Compact(fresh)
	r.shuffle(fresh)
	// Empty swarms (all members gone) are dropped; with nodes and no swarm,
	// swarm 0 is made for them.
	for id, m := range sw {
		if len(m) == 0 {
			delete(sw, id)
		}
	}
	g := &ring{sw: sw, ids: sw.IDs()}
	if len(sw) == 0 && len(fresh) > 0 {
		g.add(newSwarmID(nil), nil)
	}
	for _, k := range fresh {
		id := randomSmallest(g, r, nil)
		sw[id] = append(sw[id], k)
	}
	for {
		steal(g, r)
		if !dissolve(g, r) {
			break
		}
	}
	capMax(g, r, formNew(g, r))
	for id := range sw {
		slices.Sort(sw[id])
	}
	return sw
}

// ring is a Swarms being recomputed, with its ids kept sorted so the
// random choices walk swarms in one order without sorting each time.
type ring struct {
	sw  Swarms
	ids []uint64
}

func (g *ring) add(id uint64, members []string) {
	g.sw[id] = members
	i, _ := slices.BinarySearch(g.ids, id)
	g.ids = slices.Insert(g.ids, i, id)
}

func (g *ring) remove(id uint64) {
	delete(g.sw, id)
	if i, ok := slices.BinarySearch(g.ids, id); ok {
		g.ids = slices.Delete(g.ids, i, i+1)
	}
}

// randomSmallest returns a random swarm among those of the smallest size,
// never one of skip.
func randomSmallest(g *ring, r *rng, skip func(uint64) bool) uint64 {
	sw := g.sw
	var best []uint64
	min := math.MaxInt
	for _, id := range g.ids {
		if skip != nil && skip(id) {
			continue
		}
		switch n := len(sw[id]); {
		case n < min:
			min, best = n, []uint64{id}
		case n == min:
			best = append(best, id)
		}
	}
	if len(best) == 0 {
		return chain.UnassignedSwarm
	}
	return best[r.intn(len(best))]
}

// randomLargest returns a random swarm among those of the largest size,
// never one of skip.
func randomLargest(g *ring, r *rng, skip func(uint64) bool) uint64 {
	sw := g.sw
	var best []uint64
	max := -1
	for _, id := range g.ids {
		if skip != nil && skip(id) {
			continue
		}
		switch n := len(sw[id]); {
		case n > max:
			max, best = n, []uint64{id}
		case n == max:
			best = append(best, id)
		}
	}
	if len(best) == 0 {
		return chain.UnassignedSwarm
	}
	return best[r.intn(len(best))]
}

// take removes and returns a random member of swarm id.
func take(sw Swarms, id uint64, r *rng) string {
	m := sw[id]
	i := r.intn(len(m))
	k := m[i]
	sw[id] = append(m[:i:i], m[i+1:]...)
	return k
}

// steal: step 2.
func steal(g *ring, r *rng) {
	sw := g.sw
	for _, id := range g.ids {
		for len(sw[id]) < SwarmMin {
			donor := randomLargest(g, r, nil)
			if len(sw[donor]) <= SwarmMin {
				return
			}
			sw[id] = append(sw[id], take(sw, donor, r))
		}
	}
}

// swarmMargin is oxen-core's IDEAL_SWARM_MARGIN: the spare each swarm keeps
// before the spare forms a new swarm.
const swarmMargin = 2

// formNew: step 4. New swarms give no nodes to later ones; it returns the
// ids of the swarms it formed.
func formNew(g *ring, r *rng) map[uint64]bool {
	sw := g.sw
	formed := map[uint64]bool{}
	isNew := func(id uint64) bool { return formed[id] }
	for {
		spare, old, largest := 0, 0, 0
		for id, m := range sw {
			if formed[id] {
				continue
			}
			old++
			spare += max(len(m)-SwarmMin, 0)
			largest = max(largest, len(m))
		}
		margin := spare >= SwarmTarget+swarmMargin*old
		pressure := largest > SwarmMax && spare >= SwarmTarget
		if !margin && !pressure {
			return formed
		}
		nodes := make([]string, 0, SwarmTarget)
		for len(nodes) < SwarmTarget {
			nodes = append(nodes, take(sw, randomLargest(g, r, isNew), r))
		}
		id := newSwarmID(g.ids)
		g.add(id, nodes)
		formed[id] = true
	}
}

// dissolve: step 3, one swarm at a time.
func dissolve(g *ring, r *rng) bool {
	sw := g.sw
	if len(sw) < 2 {
		return false
	}
	victim, size := uint64(0), math.MaxInt
	for _, id := range g.ids {
		if n := len(sw[id]); n < SwarmMin && n < size {
			victim, size = id, n
		}
	}
	if size == math.MaxInt {
		return false
	}
	nodes := sw[victim]
	g.remove(victim)
	for _, k := range nodes {
		id := randomSmallest(g, r, nil)
		sw[id] = append(sw[id], k)
	}
	return true
}

// capMax: step 5, the Nmax bound. It moves nodes to the smallest swarm that
// was not formed in this recomputation, or, when no such swarm has room (a
// lone old swarm), to the smallest new one.
func capMax(g *ring, r *rng, formed map[uint64]bool) {
	sw := g.sw
	for len(sw) > 1 {
		big := randomLargest(g, r, nil)
		if len(sw[big]) <= SwarmMax {
			return
		}
		small := randomSmallest(g, r, func(id uint64) bool { return id == big || formed[id] })
		if small == chain.UnassignedSwarm || len(sw[small]) >= SwarmMax {
			small = randomSmallest(g, r, func(id uint64) bool { return id == big })
		}
		if len(sw[small]) >= SwarmMax {
			return
		}
		sw[small] = append(sw[small], take(sw, big, r))
	}
}
