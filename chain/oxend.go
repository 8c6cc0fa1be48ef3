package chain

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
)

// What clients ask oxend (the chain's daemon) for, answered the way oxend
// answers it: the seed's JSON-RPC (ledgerrpc) and a node's oxend_request
// passthrough share this.

// HardFork is the network version the devnet reports (get_info's
// hard_fork, a node's "hf"): the one current clients expect.
var HardFork = [2]int{21, 0}

// StorageServerVersion is the storage server version nodes report.
var StorageServerVersion = [3]int{2, 11, 0}

// GetServiceNodesParams are get_service_nodes' and get_n_service_nodes'
// parameters: fields (a set of field names, as an object of booleans or a
// list; none means all), limit (a random selection of that many; 0 or less
// means all) and active_only.
type GetServiceNodesParams struct {
	Fields     json.RawMessage `json:"fields,omitempty"`
	Limit      int             `json:"limit,omitempty"`
	ActiveOnly bool            `json:"active_only,omitempty"`
}

// ErrParams is a malformed parameter.
var ErrParams = errors.New("invalid params")

// fieldSet reads fields: {"public_ip": true, ...} or ["public_ip", ...].
func (p GetServiceNodesParams) fieldSet() (map[string]bool, error) {
	if len(p.Fields) == 0 || string(p.Fields) == "null" {
		return nil, nil
	}
	var m map[string]bool
	if json.Unmarshal(p.Fields, &m) == nil {
		return m, nil
	}
	var l []string
	if err := json.Unmarshal(p.Fields, &l); err != nil || len(l) > 64 {
		return nil, ErrParams
	}
	m = map[string]bool{}
	for _, f := range l {
		m[f] = true
	}
	return m, nil
}

// ServiceNodeStates answers get_service_nodes: result.service_node_states,
// each node with the fields asked for. Nodes without a published HTTPS
// edge show public_ip 0.0.0.0, which clients skip.
func ServiceNodeStates(nodes []ServiceNode, p GetServiceNodesParams) ([]map[string]any, error) {
	fields, err := p.fieldSet()
	if err != nil {
		return nil, err
	}
	var pick []ServiceNode
	for _, n := range nodes {
		if n.State == StateDeregistered || p.ActiveOnly && n.State != StateActive {
			continue
		}
		pick = append(pick, n)
	}
	if p.Limit > 0 && p.Limit < len(pick) {
		rand.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
		pick = pick[:p.Limit]
	}
	out := make([]map[string]any, 0, len(pick))
	for _, n := range pick {
		ip := n.PublicIP
		if ip == "" || n.StoragePort == 0 {
			ip = "0.0.0.0"
		}
		all := map[string]any{
			"public_ip":               ip,
			"storage_port":            n.StoragePort,
			"storage_lmq_port":        0, // no OxenMQ/QUIC port in the devnet: nodes talk libp2p
			"pubkey_ed25519":          n.Key,
			"pubkey_x25519":           n.X25519,
			"service_node_pubkey":     n.Key,
			"swarm_id":                n.SwarmID,
			"requested_unlock_height": n.UnlockHeight,
			"active":                  n.State == StateActive,
			"funded":                  true,
			"registration_height":     n.RegistrationHeight,
			"last_uptime_proof":       n.LastProof,
			"storage_server_version":  StorageServerVersion,
			"operator_address":        n.Operator,
		}
		if fields == nil {
			out = append(out, all)
			continue
		}
		m := map[string]any{}
		for f, want := range fields {
			if v, ok := all[f]; ok && want {
				m[f] = v
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// GetInfo answers get_info with the fields clients read.
func GetInfo(info Info) map[string]any {
	return map[string]any{
		"status":        "OK",
		"height":        info.Height,
		"target_height": info.Height,
		"hard_fork":     HardFork[0],
		"nettype":       "devnet",
		"untrusted":     false,
	}
}
