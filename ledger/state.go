package ledger

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
)

// contributorOf returns the index of wallet's stake in n, or -1.
func contributorOf(n *chain.ServiceNode, wallet string) int {
	return slices.IndexFunc(n.Contributors, func(c chain.Contributor) bool { return c.Wallet == wallet })
}

// cloneNode returns a copy of n that shares nothing with it.
func cloneNode(n *chain.ServiceNode) *chain.ServiceNode {
	c := *n
	c.Contributors = slices.Clone(n.Contributors)
	c.Addrs = slices.Clone(n.Addrs)
	return &c
}

// NameRecord is a registered session name: its hash, owner and encrypted value.
type NameRecord struct {
	NameHash string `json:"name_hash"`
	Owner    string `json:"owner"`
	Value    string `json:"value"` // hex, see EncryptName
	Height   uint64 `json:"height"`
}

// State is everything the chain decides, at one height. It is a pure value:
// applying a block to a clone leaves the original as it was.
type State struct {
	Height       uint64                        `json:"height"`
	Hash         string                        `json:"hash"`
	Balances     map[string]uint64             `json:"balances"`
	Nonces       map[string]uint64             `json:"nonces"`
	Nodes        map[string]*chain.ServiceNode `json:"nodes"`
	Names        map[string]*NameRecord        `json:"names"`
	Swarms       Swarms                        `json:"swarms"`
	SwarmsHeight uint64                        `json:"swarms_height"` // height of the last swarm change
	NodesHeight  uint64                        `json:"nodes_height"`  // height of the last change to a node's state, keys or addresses
	Burned       uint64                        `json:"burned"`
	Minted       uint64                        `json:"minted"`
	Rounds       map[uint64]*round             `json:"rounds,omitempty"` // the last testing rounds
}

func newState() *State {
	return &State{
		Balances: map[string]uint64{},
		Nonces:   map[string]uint64{},
		Nodes:    map[string]*chain.ServiceNode{},
		Names:    map[string]*NameRecord{},
		Swarms:   Swarms{},
	}
}

func (s *State) clone() *State {
	c := *s
	c.Balances = maps.Clone(s.Balances)
	c.Nonces = maps.Clone(s.Nonces)
	c.Nodes = make(map[string]*chain.ServiceNode, len(s.Nodes))
	for k, n := range s.Nodes {
		c.Nodes[k] = cloneNode(n)
	}
	c.Names = make(map[string]*NameRecord, len(s.Names))
	for k, n := range s.Names {
		r := *n
		c.Names[k] = &r
	}
	c.Swarms = s.Swarms.Clone()
	if s.Rounds != nil {
		// Only the last rounds change (commits, reveals and votes go to
		// the newest, a tally closes the one before); older ones are
		// shared, not copied, and the newest share what cannot change
		// any more (round.clone).
		newest := uint64(0)
		for k := range s.Rounds {
			newest = max(newest, k)
		}
		c.Rounds = make(map[uint64]*round, len(s.Rounds))
		for k, r := range s.Rounds {
			if k+frozenRounds <= newest {
				c.Rounds[k] = r
			} else {
				c.Rounds[k] = r.clone()
			}
		}
	}
	return &c
}

// nodeKeys returns the node keys, sorted, so every walk is deterministic.
func (s *State) nodeKeys() []string {
	return slices.Sorted(maps.Keys(s.Nodes))
}

// activeCount is how many nodes are active (what Info tells: counted, not
// sorted, since every node of a devnet asks for Info every block).
func (s *State) activeCount() int {
	n := 0
	for _, sn := range s.Nodes {
		if sn.State == chain.StateActive {
			n++
		}
	}
	return n
}

// activeKeys returns the keys of the active nodes, sorted.
func (s *State) activeKeys() []string {
	var out []string
	for _, k := range s.nodeKeys() {
		if s.Nodes[k].State == chain.StateActive {
			out = append(out, k)
		}
	}
	return out
}

// Reasons a transaction is rejected, for errors.Is; the error text says more.
var (
	ErrNonce      = errors.New("wrong nonce")
	ErrFunds      = errors.New("insufficient balance")
	ErrNoNode     = errors.New("no such service node")
	ErrStakeRules = errors.New("breaks the staking rules")
	ErrNodeState  = errors.New("not allowed in the node's state")
	ErrNameTaken  = errors.New("name already registered")
	ErrForbidden  = errors.New("signer may not do this")
)

// applyTx checks tx against the rules and, only if it passes, applies it:
// a rejected transaction changes nothing. authority is the key allowed to
// sign state changes.
func (s *State) applyTx(p chain.Params, tx *chain.Tx, height uint64, authority string) error {
	body, err := tx.DecodeBody()
	if err != nil {
		return err
	}
	if want := s.Nonces[tx.Signer]; tx.Nonce != want {
		return fmt.Errorf("%w: signer's next nonce is %d, got %d", ErrNonce, want, tx.Nonce)
	}
	switch b := body.(type) {
	case *chain.TransferBody:
		err = s.transfer(tx.Signer, b)
	case *chain.RegisterBody:
		err = s.register(p, tx.Signer, b, height)
	case *chain.ContributeBody:
		err = s.contribute(p, tx.Signer, b, height)
	case *chain.UnlockBody:
		err = s.unlock(p, tx.Signer, b, height)
	case *chain.NameBody:
		err = s.registerName(p, tx.Signer, b, height)
	case *chain.StateChangeBody:
		if tx.Signer != authority {
			return fmt.Errorf("%w: state changes are signed by the ledger's authority", ErrForbidden)
		}
		err = s.changeState(p, b, height)
	case *chain.NodeInfoBody:
		err = s.nodeInfo(tx.Signer, b)
	case *chain.UptimeProofBody:
		err = s.uptimeProof(tx.Signer, height)
	case *chain.CommitBody:
		err = s.commit(p, tx.Signer, b, height)
	case *chain.RevealBody:
		err = s.reveal(p, tx.Signer, b, height)
	case *chain.VoteBody:
		err = s.vote(p, tx.Signer, b, height)
	}
	if err != nil {
		return err
	}
	switch tx.Type {
	case chain.TxRegister, chain.TxContribute, chain.TxUnlock, chain.TxStateChange, chain.TxNodeInfo:
		s.NodesHeight = height
	}
	s.Nonces[tx.Signer]++
	return nil
}

func (s *State) transfer(from string, b *chain.TransferBody) error {
	if b.Amount == 0 {
		return fmt.Errorf("%w: a transfer of 0", ErrStakeRules)
	}
	if s.Balances[from] < b.Amount {
		return fmt.Errorf("%w: has %s coins, sends %s", ErrFunds, chain.FormatCoins(s.Balances[from]), chain.FormatCoins(b.Amount))
	}
	s.Balances[from] -= b.Amount
	s.Balances[b.To] += b.Amount
	return nil
}

func (s *State) register(p chain.Params, operator string, b *chain.RegisterBody, height uint64) error {
	if _, ok := s.Nodes[b.NodeKey]; ok {
		return fmt.Errorf("%w: node %s is already registered", ErrStakeRules, short(b.NodeKey))
	}
	if b.FeeBPS > 10_000 {
		return fmt.Errorf("%w: operator fee %d basis points is over 10,000", ErrStakeRules, b.FeeBPS)
	}
	if min := p.MinOperatorStake(); b.Amount < min {
		return fmt.Errorf("%w: the operator stakes %s coins, at least %s (25%%) are required", ErrStakeRules, chain.FormatCoins(b.Amount), chain.FormatCoins(min))
	}
	if 1+len(b.Reserved) > p.MaxContributors {
		return fmt.Errorf("%w: %d contributors, at most %d", ErrStakeRules, 1+len(b.Reserved), p.MaxContributors)
	}
	held := b.Amount
	seen := map[string]bool{operator: true}
	for i, r := range b.Reserved {
		if seen[r.Wallet] {
			return fmt.Errorf("%w: wallet %s holds two spots", ErrStakeRules, short(r.Wallet))
		}
		seen[r.Wallet] = true
		if min := p.MinContribution(held, 1+i); r.Amount < min {
			return fmt.Errorf("%w: reserved spot %d of %s coins is below the minimum contribution of %s", ErrStakeRules, i+1, chain.FormatCoins(r.Amount), chain.FormatCoins(min))
		}
		held += r.Amount
	}
	if held > p.StakeRequirement {
		return fmt.Errorf("%w: stake and reserved spots total %s coins, the requirement is %s", ErrStakeRules, chain.FormatCoins(held), chain.FormatCoins(p.StakeRequirement))
	}
	if s.Balances[operator] < b.Amount {
		return fmt.Errorf("%w: has %s coins, stakes %s", ErrFunds, chain.FormatCoins(s.Balances[operator]), chain.FormatCoins(b.Amount))
	}
	nodeKey, _ := hex.DecodeString(b.NodeKey)
	x, err := identity.Ed25519ToX25519(nodeKey)
	if err != nil {
		return fmt.Errorf("%w: node key: %v", ErrStakeRules, err)
	}
	n := &chain.ServiceNode{
		Key:                b.NodeKey,
		X25519:             hex.EncodeToString(x[:]),
		Operator:           operator,
		FeeBPS:             b.FeeBPS,
		Contributors:       []chain.Contributor{{Wallet: operator, Amount: b.Amount}},
		State:              chain.StateAwaiting,
		RegistrationHeight: height,
		StateHeight:        height,
		SwarmID:            chain.UnassignedSwarm,
	}
	for _, r := range b.Reserved {
		n.Contributors = append(n.Contributors, chain.Contributor{Wallet: r.Wallet, Reserved: r.Amount})
	}
	s.Balances[operator] -= b.Amount
	s.Nodes[b.NodeKey] = n
	s.activateIfStaked(p, n, height)
	return nil
}

func (s *State) activateIfStaked(p chain.Params, n *chain.ServiceNode, height uint64) {
	if n.State == chain.StateAwaiting && n.Staked() == p.StakeRequirement {
		n.State, n.ActiveSince, n.StateHeight, n.Credit, n.LastProof = chain.StateActive, height, height, p.InitialCredit, height
	}
}

func (s *State) contribute(p chain.Params, wallet string, b *chain.ContributeBody, height uint64) error {
	n, ok := s.Nodes[b.NodeKey]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoNode, short(b.NodeKey))
	}
	if n.State != chain.StateAwaiting || n.UnlockHeight != 0 {
		return fmt.Errorf("%w: node %s is %s and takes no contributions", ErrNodeState, short(b.NodeKey), n.State)
	}
	if b.Amount == 0 {
		return fmt.Errorf("%w: a contribution of 0", ErrStakeRules)
	}
	i := contributorOf(n, wallet)
	// Open room: the stake less what is staked or held by others, and this
	// wallet's own spot (its reservation, or what it staked before).
	own := uint64(0)
	if i >= 0 {
		own = max(n.Contributors[i].Amount, n.Contributors[i].Reserved)
	}
	room := p.StakeRequirement - (held(n) - own)
	if i >= 0 {
		room -= n.Contributors[i].Amount
	}
	if b.Amount > room {
		return fmt.Errorf("%w: %s coins would over-fill the node; %s coins are open to this wallet", ErrStakeRules, chain.FormatCoins(b.Amount), chain.FormatCoins(room))
	}
	switch {
	case i < 0:
		if len(n.Contributors) >= p.MaxContributors {
			return fmt.Errorf("%w: the node has %d contributors already", ErrStakeRules, len(n.Contributors))
		}
		min := p.MinContribution(held(n), len(n.Contributors))
		if b.Amount < min && b.Amount != room {
			return fmt.Errorf("%w: %s coins is below the minimum contribution of %s", ErrStakeRules, chain.FormatCoins(b.Amount), chain.FormatCoins(min))
		}
	case n.Contributors[i].Amount < n.Contributors[i].Reserved:
		// A first contribution to a reserved spot fills at least the spot.
		if need := n.Contributors[i].Reserved - n.Contributors[i].Amount; b.Amount < need {
			return fmt.Errorf("%w: the spot reserved for this wallet needs %s coins", ErrStakeRules, chain.FormatCoins(need))
		}
	}
	if s.Balances[wallet] < b.Amount {
		return fmt.Errorf("%w: has %s coins, stakes %s", ErrFunds, chain.FormatCoins(s.Balances[wallet]), chain.FormatCoins(b.Amount))
	}
	s.Balances[wallet] -= b.Amount
	if i < 0 {
		n.Contributors = append(n.Contributors, chain.Contributor{Wallet: wallet, Amount: b.Amount})
	} else {
		n.Contributors[i].Amount += b.Amount
	}
	s.activateIfStaked(p, n, height)
	return nil
}

func (s *State) unlock(p chain.Params, wallet string, b *chain.UnlockBody, height uint64) error {
	n, ok := s.Nodes[b.NodeKey]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoNode, short(b.NodeKey))
	}
	if i := contributorOf(n, wallet); i < 0 || n.Contributors[i].Amount == 0 {
		return fmt.Errorf("%w: only a contributor may unlock node %s", ErrForbidden, short(b.NodeKey))
	}
	if n.State == chain.StateDeregistered {
		return fmt.Errorf("%w: node %s is deregistered; its stake is locked until height %d", ErrNodeState, short(b.NodeKey), n.UnlockHeight)
	}
	if n.UnlockHeight != 0 {
		return fmt.Errorf("%w: node %s unlocks at height %d already", ErrNodeState, short(b.NodeKey), n.UnlockHeight)
	}
	n.UnlockHeight = height + p.UnlockDelay
	return nil
}

func (s *State) registerName(p chain.Params, owner string, b *chain.NameBody, height uint64) error {
	if _, taken := s.Names[b.NameHash]; taken {
		return fmt.Errorf("%w", ErrNameTaken)
	}
	if s.Balances[owner] < p.NameCost {
		return fmt.Errorf("%w: a name burns %s coins, the owner has %s", ErrFunds, chain.FormatCoins(p.NameCost), chain.FormatCoins(s.Balances[owner]))
	}
	s.Balances[owner] -= p.NameCost
	s.Burned += p.NameCost
	s.Names[b.NameHash] = &NameRecord{NameHash: b.NameHash, Owner: owner, Value: b.Value, Height: height}
	return nil
}

func (s *State) changeState(p chain.Params, b *chain.StateChangeBody, height uint64) error {
	n, ok := s.Nodes[b.NodeKey]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoNode, short(b.NodeKey))
	}
	switch {
	case b.State == chain.StateDecommissioned && n.State == chain.StateActive:
		if n.Credit < p.MinCreditDecomm {
			// Not enough credit to be decommissioned: deregistered instead.
			s.deregister(p, n, height)
			return nil
		}
		n.State, n.StateHeight = chain.StateDecommissioned, height
	case b.State == chain.StateActive && n.State == chain.StateDecommissioned:
		n.State, n.StateHeight, n.ActiveSince = chain.StateActive, height, height
	case b.State == chain.StateDeregistered && (n.State == chain.StateActive || n.State == chain.StateDecommissioned):
		s.deregister(p, n, height)
	default:
		return fmt.Errorf("%w: node %s is %s and cannot become %s", ErrNodeState, short(b.NodeKey), n.State, b.State)
	}
	return nil
}

func (s *State) deregister(p chain.Params, n *chain.ServiceNode, height uint64) {
	n.State, n.StateHeight = chain.StateDeregistered, height
	n.UnlockHeight = height + p.DeregisterLock
}

func (s *State) nodeInfo(key string, b *chain.NodeInfoBody) error {
	n, ok := s.Nodes[key]
	if !ok {
		return fmt.Errorf("%w: the signer %s is not a registered node", ErrNoNode, short(key))
	}
	if n.State == chain.StateDeregistered {
		return fmt.Errorf("%w: node %s is deregistered", ErrNodeState, short(key))
	}
	n.PeerID, n.Addrs = b.PeerID, slices.Clone(b.Addrs)
	n.PublicIP, n.StoragePort = b.PublicIP, b.StoragePort
	return nil
}

// beginBlock runs the chain's own work at the start of block height, before
// its transactions: rewards to the active nodes, decommission credit, stakes
// returned at their unlock height, and the testing rounds' tallies and draws.
func (s *State) beginBlock(p chain.Params, height uint64) {
	defer s.testingWork(p, height)
	active := s.activeKeys()
	if len(active) > 0 {
		share := p.BlockReward / uint64(len(active))
		for _, k := range active {
			s.reward(p, s.Nodes[k], share)
		}
	}
	for _, k := range s.nodeKeys() {
		n := s.Nodes[k]
		switch n.State {
		case chain.StateActive:
			n.ActiveBlocks++
			if n.ActiveBlocks%p.CreditEvery == 0 && n.Credit < p.MaxCredit {
				n.Credit++
			}
		case chain.StateDecommissioned:
			if n.Credit > 0 {
				n.Credit--
			}
			if n.Credit == 0 {
				s.deregister(p, n, height)
				s.NodesHeight = height
			}
		}
		if n.UnlockHeight != 0 && n.UnlockHeight <= height {
			for _, c := range n.Contributors {
				s.Balances[c.Wallet] += c.Amount
			}
			delete(s.Nodes, k)
			s.NodesHeight = height
		}
	}
}

// reward pays one node's share: the operator's fee first, then the rest pro
// rata by stake, the rounding left-over to the operator.
func (s *State) reward(p chain.Params, n *chain.ServiceNode, share uint64) {
	fee := share * uint64(n.FeeBPS) / 10_000
	rest := share - fee
	paid := uint64(0)
	staked := n.Staked()
	for i := range n.Contributors {
		c := &n.Contributors[i]
		part := mulDiv(rest, c.Amount, staked)
		c.Rewards += part
		s.Balances[c.Wallet] += part
		paid += part
	}
	left := fee + rest - paid
	n.Contributors[0].Rewards += left
	s.Balances[n.Contributors[0].Wallet] += left
	n.Rewards += share
	s.Minted += share
}

// mulDiv returns a*b/c without overflow for the amounts of a chain.
func mulDiv(a, b, c uint64) uint64 {
	if c == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64 // a*b/c does not fit: never for b <= c
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// endBlock recomputes the swarms when the active set changed in the block.
func (s *State) endBlock(height uint64, seed [32]byte, activeBefore []string) {
	active := s.activeKeys()
	if slices.Equal(active, activeBefore) {
		return
	}
	s.Swarms = RecomputeSwarms(s.Swarms, active, seed)
	s.SwarmsHeight = height
	for _, n := range s.Nodes {
		n.SwarmID = chain.UnassignedSwarm
	}
	for id, members := range s.Swarms {
		for _, k := range members {
			s.Nodes[k].SwarmID = id
		}
	}
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}

// encode returns the state as JSON, for snapshots.
func (s *State) encode() ([]byte, error) { return json.Marshal(s) }

func decodeState(data []byte) (*State, error) {
	s := newState()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, err
	}
	for k, n := range s.Nodes {
		if n == nil || n.Key != k || len(n.Contributors) == 0 {
			return nil, fmt.Errorf("node %s is malformed", short(k))
		}
	}
	for k, r := range s.Names {
		if r == nil || r.NameHash != k {
			return nil, fmt.Errorf("name %s is malformed", k)
		}
	}
	for k, r := range s.Rounds {
		if r == nil {
			return nil, fmt.Errorf("round %d is malformed", k)
		}
	}
	for id, members := range s.Swarms {
		for _, k := range members {
			if n, ok := s.Nodes[k]; !ok || n.SwarmID != id {
				return nil, fmt.Errorf("swarm %d lists node %s wrongly", id, short(k))
			}
		}
	}
	return s, nil
}

// held returns what a node's stakes and reservations hold.
func held(n *chain.ServiceNode) uint64 {
	var h uint64
	for _, c := range n.Contributors {
		h += max(c.Amount, c.Reserved)
	}
	return h
}
