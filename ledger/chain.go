package ledger

import (
	"crypto/ed25519"

	"github.com/sessionctl/sessionctl/chain"
)

// The chain's public types live in package chain, which nodes and clients
// import without this state machine; these names keep the ledger's own code
// and its callers reading as before.

type (
	NodeState       = chain.NodeState
	Contributor     = chain.Contributor
	ServiceNode     = chain.ServiceNode
	Info            = chain.Info
	Account         = chain.Account
	Vote            = chain.Vote
	Quorum          = chain.Quorum
	Change          = chain.Change
	Round           = chain.Round
	Params          = chain.Params
	TxType          = chain.TxType
	Tx              = chain.Tx
	Reservation     = chain.Reservation
	TransferBody    = chain.TransferBody
	RegisterBody    = chain.RegisterBody
	ContributeBody  = chain.ContributeBody
	UnlockBody      = chain.UnlockBody
	NameBody        = chain.NameBody
	StateChangeBody = chain.StateChangeBody
	NodeInfoBody    = chain.NodeInfoBody
	UptimeProofBody = chain.UptimeProofBody
	CommitBody      = chain.CommitBody
	RevealBody      = chain.RevealBody
	VoteBody        = chain.VoteBody
)

const (
	StateAwaiting       = chain.StateAwaiting
	StateActive         = chain.StateActive
	StateDecommissioned = chain.StateDecommissioned
	StateDeregistered   = chain.StateDeregistered

	TxTransfer    = chain.TxTransfer
	TxRegister    = chain.TxRegister
	TxContribute  = chain.TxContribute
	TxUnlock      = chain.TxUnlock
	TxName        = chain.TxName
	TxStateChange = chain.TxStateChange
	TxNodeInfo    = chain.TxNodeInfo
	TxUptimeProof = chain.TxUptimeProof
	TxCommit      = chain.TxCommit
	TxReveal      = chain.TxReveal
	TxVote        = chain.TxVote

	Coin            = chain.Coin
	MaxTxSize       = chain.MaxTxSize
	UnassignedSwarm = chain.UnassignedSwarm
)

// ErrTxFormat is chain.ErrTxFormat.
var ErrTxFormat = chain.ErrTxFormat

// NewTx is chain.NewTx.
func NewTx(t TxType, key ed25519.PrivateKey, nonce uint64, body any) (*Tx, error) {
	return chain.NewTx(t, key, nonce, body)
}

// DecodeTx is chain.DecodeTx.
func DecodeTx(data []byte) (*Tx, error) { return chain.DecodeTx(data) }

// DefaultParams is chain.DefaultParams.
func DefaultParams() Params { return chain.DefaultParams() }

// SwarmFor is chain.SwarmFor.
func SwarmFor(ids []uint64, v uint64) uint64 { return chain.SwarmFor(ids, v) }

// FormatCoins is chain.FormatCoins.
func FormatCoins(a uint64) string { return chain.FormatCoins(a) }

// ParseCoins is chain.ParseCoins.
func ParseCoins(s string) (uint64, error) { return chain.ParseCoins(s) }

func parseKey(s string) (ed25519.PublicKey, error) { return chain.ParseKey(s) }

func verifyHex(pub ed25519.PublicKey, msg []byte, sigHex string) bool {
	return chain.VerifyHex(pub, msg, sigHex)
}

func checkKeyField(name, v string) error { return chain.CheckKeyField(name, v) }

// held returns what a node's stakes and reservations hold.
func held(n *ServiceNode) uint64 {
	var h uint64
	for _, c := range n.Contributors {
		h += max(c.Amount, c.Reserved)
	}
	return h
}
