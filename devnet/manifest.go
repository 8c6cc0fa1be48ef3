package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"time"
)

// Manifest is <dir>/devnet.json: everything a script needs to drive the devnet.
type Manifest struct {
	Format  int       `json:"format"`
	Seed    string    `json:"seed"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Control Endpoint  `json:"control"`
	Ledger  Endpoint  `json:"ledger"`
	// SeedNode is the seed real clients start from (JSON-RPC at /json_rpc:
	// the desktop app's LOCAL_DEVNET_SEED_URL).
	SeedNode Endpoint `json:"seed_node"`
	// Proxy is an HTTP proxy that takes the real network's hosts (the
	// seeds, the file server, the default community) to this devnet: a
	// client that hard-codes them needs only its proxy setting.
	Proxy Endpoint `json:"proxy"`
	// Dashboard is the live page of the devnet: its viewer link, which
	// shows everything and changes nothing (for the projector and the
	// room). DashboardOperator is its operator link, which can kill and
	// restart nodes and mine: keep it to yourself.
	Dashboard         Endpoint `json:"dashboard"`
	DashboardOperator Endpoint `json:"dashboard_operator"`
	// Join is what another machine runs a node of this devnet with
	// ('node join URL'): it can fund a stake, nothing else.
	Join    Endpoint         `json:"join"`
	Nodes   []ManifestNode   `json:"nodes"`
	Clients []ManifestClient `json:"clients"`
	Servers []ManifestServer `json:"servers"`
	// Rewound is the id of the rewind that started this devnet from a
	// snapshot in place ('devnet snapshot load' while it ran), if one did.
	Rewound string `json:"rewound,omitempty"`
}

// Endpoint is a URL and, for the control endpoint, its token.
type Endpoint struct {
	URL   string `json:"url"`
	Token string `json:"token,omitempty"`
}

// ManifestNode describes one service node.
type ManifestNode struct {
	Name          string   `json:"name"`
	Ed25519Pubkey string   `json:"ed25519_pubkey"`
	X25519Pubkey  string   `json:"x25519_pubkey"`
	PeerID        string   `json:"peer_id"`
	Addrs         []string `json:"addrs"`
	HTTPS         string   `json:"https,omitempty"` // the node's HTTPS client edge
	SwarmID       string   `json:"swarm_id"`        // 16 hex digits, "" when in no swarm
	State         string   `json:"state"`
	Running       bool     `json:"running"`
	Credit        uint64   `json:"credit"`           // decommission credit, in blocks
	LastProof     uint64   `json:"last_proof"`       // height of the last uptime proof
	PID           int      `json:"pid,omitempty"`    // the process it runs in, while running
	Exited        string   `json:"exited,omitempty"` // how its own process ended by itself (devnet up --procs)
	// Joined is a node that joined the devnet from a process of its own
	// ('node run', 'node join'): the devnet did not start it and cannot
	// stop it; Running says nothing of it.
	Joined bool `json:"joined,omitempty"`
}

// ManifestClient describes one client identity.
type ManifestClient struct {
	Name      string `json:"name"`
	AccountID string `json:"account_id"`
}

// ManifestServer describes a server (file and community servers, step 8).
type ManifestServer struct {
	Kind         string         `json:"kind"`
	URL          string         `json:"url"`
	X25519Pubkey string         `json:"x25519_pubkey"`
	Rooms        []ManifestRoom `json:"rooms,omitempty"` // a community server's
}

// ManifestRoom is a room of the community server and the link Session apps
// join it by (http://HOST:PORT/ROOM?public_key=HEX).
type ManifestRoom struct {
	Token   string `json:"token"`
	Name    string `json:"name"`
	JoinURL string `json:"join_url"`
}

// ReadManifest reads <dir>/devnet.json; ErrNotRunning when there is none.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(ManifestPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNotRunning, dir)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, ManifestPath(dir), err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%w: manifest version %d, this sessionctl reads %d", ErrFormat, m.Format, FormatVersion)
	}
	return &m, nil
}
