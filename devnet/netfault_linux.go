package devnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Network faults between hosts (package chaos's partition and slow): a
// host is a network namespace whose eth0 is one end of a veth pair, the
// other end on a bridge in this namespace (testdata/script/netns.txtar
// makes them so), and its nodes joined the devnet from there. A partition
// takes the bridge's end down (nothing reaches the host, it reaches
// nothing; its routes stay), a slow link puts a token bucket (tbf) on both
// ends. It needs root, ip(8) and tc(8).

// hostLink is a host's two ends.
type hostLink struct {
	ns, ip, bridgeEnd string
}

// netFaults says whether network faults can be made on hosts: "" when
// they can.
func netFaults(hosts []string) string {
	if len(hosts) == 0 {
		return "no hosts given (--netns: network namespaces holding nodes of the devnet, as testdata/script/netns.txtar makes them)"
	}
	if os.Geteuid() != 0 {
		return "it needs root"
	}
	for _, prog := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(prog); err != nil {
			return prog + " is not installed"
		}
	}
	for _, h := range hosts {
		if _, err := linkOf(context.Background(), h); err != nil {
			return err.Error()
		}
	}
	return ""
}

// linkOf finds a host's address and the bridge's end of its eth0.
func linkOf(ctx context.Context, ns string) (hostLink, error) {
	l := hostLink{ns: ns}
	out, err := exec.CommandContext(ctx, "ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth0").Output()
	if err != nil {
		return l, fmt.Errorf("host %s: no eth0 with an address (%v)", ns, err)
	}
	for f := strings.Fields(string(out)); len(f) > 1; f = f[1:] {
		if f[0] == "inet" {
			l.ip, _, _ = strings.Cut(f[1], "/")
		}
	}
	out, err = exec.CommandContext(ctx, "ip", "-n", ns, "-o", "link", "show", "dev", "eth0").Output()
	_, peer, ok := strings.Cut(strings.Fields(string(out) + " x x")[1], "@if")
	if err != nil || !ok || l.ip == "" {
		return l, fmt.Errorf("host %s: eth0 is not one end of a veth pair", ns)
	}
	peer = strings.TrimSuffix(peer, ":")
	out, err = exec.CommandContext(ctx, "ip", "-o", "link", "show").Output()
	if err != nil {
		return l, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == peer+":" {
			l.bridgeEnd, _, _ = strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		}
	}
	if l.bridgeEnd == "" {
		return l, fmt.Errorf("host %s: the other end of its eth0 is not in this namespace", ns)
	}
	return l, nil
}

// netFault cuts a host off, or slows its links to rate (tbf); heal undoes it.
func netFault(ctx context.Context, ns string, slow bool, rate string) (func(context.Context) error, error) {
	l, err := linkOf(ctx, ns)
	if err != nil {
		return nil, err
	}
	if !slow {
		if err := run(ctx, "ip", "link", "set", l.bridgeEnd, "down"); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return run(ctx, "ip", "link", "set", l.bridgeEnd, "up") }, nil
	}
	tbf := []string{"root", "tbf", "rate", rate, "burst", "16kb", "latency", "2s"}
	heal := func(ctx context.Context) error {
		return errors.Join(run(ctx, "tc", "qdisc", "del", "dev", l.bridgeEnd, "root"),
			run(ctx, "ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root"))
	}
	if err := run(ctx, append([]string{"tc", "qdisc", "replace", "dev", l.bridgeEnd}, tbf...)...); err != nil {
		return nil, err
	}
	if err := run(ctx, append([]string{"ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", "eth0"}, tbf...)...); err != nil {
		heal(ctx)
		return nil, err
	}
	return heal, nil
}

// hostIP is a host's address ("" if it has none).
func hostIP(ctx context.Context, ns string) string {
	l, _ := linkOf(ctx, ns)
	return l.ip
}
