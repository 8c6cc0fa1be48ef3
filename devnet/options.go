package devnet

import (
	"fmt"
	"net"
	"strings"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Reading what the command line says of a devnet, before anything starts:
// errors are errkind.Invalid and name the flag.

// ParsePayments reads payments written NAME=COINS (--fund): NAME an
// identity or a wallet, COINS a positive amount.
func ParsePayments(list []string) ([]Payment, error) {
	var out []Payment
	for _, f := range list {
		name, coins, ok := strings.Cut(f, "=")
		amount, err := chain.ParseCoins(coins)
		if !ok || name == "" || err != nil || amount == 0 {
			return nil, errkind.Invalidf("--fund %q: want NAME=COINS, as alice=100", f)
		}
		out = append(out, Payment{To: name, Amount: amount})
	}
	return out, nil
}

// ParseClients reads a comma-separated list of client names (--clients).
func ParseClients(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if err := identity.ValidName(n); err != nil {
				return nil, errkind.Invalidf("--clients: %w", err)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// CheckListen checks the address a devnet listens on (--listen): an IPv4
// address others reach this machine at. For one that is not loopback it
// returns a warning to show: others reach the devnet.
func CheckListen(listen string) (warning string, err error) {
	if listen, err = resolveListen(listen); err != nil {
		return "", err
	}
	ip := net.ParseIP(listen)
	if ip == nil || ip.To4() == nil {
		return "", errkind.Invalidf("--listen %q: want the IPv4 address that other machines reach this one at, 'auto', or 0.0.0.0 (with --nodes 0 and --advertise)", listen)
	}
	if ip.IsLoopback() {
		return "", nil
	}
	return fmt.Sprintf("warning: listening on %s: the ledger, the servers and the nodes are reachable from other machines.\n"+
		"  Anyone who can reach them reads the chain and sends messages; kill, restart, mine and payments need the token in devnet.json,\n"+
		"  and the join URL funds node stakes: hand it only to those who should run nodes.", listen), nil
}
