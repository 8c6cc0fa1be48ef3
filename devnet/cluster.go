package devnet

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// A devnet in a cluster (deploy/kubernetes, deploy/podman): the devnet runs
// in one pod, listening on the pod's address (ListenAuto), at fixed ports
// (BasePort) that a Service names, under the Service's name (Advertise),
// with a join secret from a Kubernetes Secret (UpConfig.JoinSecret) and no
// nodes of its own (NoNodes); the nodes are pods that join it (node join,
// JoinURL), each keeping its data on a volume, in a directory named after
// its pod when pods share one (HostData).

// NoNodes as UpConfig.Nodes or Config.Nodes: the devnet runs no node of its
// own; every node joins it from its own process (`node join`, `node run`).
const NoNodes = -1

// NodesFlag is UpConfig.Nodes from --nodes N: 0 given is NoNodes, 0 not
// given the default. (Open checks the rest.)
func NodesFlag(n int, given bool) int {
	if given && n == 0 {
		return NoNodes
	}
	return n
}

// The ports a devnet takes from Config.BasePort, by offset.
const (
	PortSeed      = 0 // the ledger RPC: the seed apps start from, and what nodes follow
	PortControl   = 1 // the control endpoint: the join URL, the dashboard, the token's API
	PortProxy     = 2 // the proxy for clients that hard-code the real hosts
	PortFiles     = 3 // the file server (exits forward to it)
	PortCommunity = 4 // the community server (the same)
	portsUsed     = 5
)

// addr is the address a part at port offset off listens on: Host and
// BasePort+off, or a free port.
func (c *Config) addr(off int) string {
	port := 0
	if c.BasePort > 0 {
		port = c.BasePort + off
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// checkPlacement checks where a devnet is told to listen and what name to
// publish (Config.BasePort, Config.Advertise).
func checkPlacement(basePort int, advertise string) error {
	if basePort < 0 || basePort > 65536-portsUsed {
		return errkind.Invalidf("--base-port %d: want 1 to %d (the devnet takes %d ports from it), or 0 for free ports", basePort, 65536-portsUsed, portsUsed)
	}
	if advertise != "" && !validHost(advertise) {
		return errkind.Invalidf("--advertise %q: want a host name (a Kubernetes Service's, say) or an IPv4 address", advertise)
	}
	return nil
}

// checkHost checks the address a network listens on (Config.Host), with
// nodes of its own (0 for none; Open passes --nodes, which must say 0) and
// the name it advertises.
func checkHost(host string, nodes int, advertise string) error {
	ip := net.ParseIP(host)
	switch {
	case ip == nil || ip.To4() == nil:
		return errkind.Invalidf("--listen %q: want an IPv4 address that others reach this machine at", host)
	case ip.IsUnspecified() && (nodes != 0 || advertise == ""):
		return errkind.Invalidf("--listen %s: every address is only for a devnet without nodes of its own (--nodes 0) that names itself (--advertise NAME): its nodes would publish 0.0.0.0", host)
	}
	return nil
}

// local is a URL of a server listening on every address (0.0.0.0) as this
// machine reaches it, at 127.0.0.1: what the manifest and the banner say.
func local(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || !net.ParseIP(u.Hostname()).IsUnspecified() {
		return raw
	}
	u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	return u.String()
}

// advertised is a URL of this devnet (http://HOST:PORT/...) under the
// advertised name, if one was given.
func (nw *Network) advertised(raw string) string {
	if nw.cfg.Advertise == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Host = net.JoinHostPort(nw.cfg.Advertise, u.Port())
	return u.String()
}

// hostLabel is a DNS label: what a host name is made of.
var hostLabel = lazyRegexp(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validHost reports whether s is a host name (lowercase DNS labels, as
// Kubernetes names Services and pods) or an IPv4 address.
func validHost(s string) bool {
	if ip := net.ParseIP(s); ip != nil {
		return ip.To4() != nil && !ip.IsUnspecified()
	}
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabel().MatchString(l) {
			return false
		}
	}
	return true
}

// ListenAuto as --listen (UpConfig.Listen) listens on this machine's one
// address that is not loopback: a pod's.
const ListenAuto = "auto"

// resolveListen turns --listen into the IPv4 address to listen on:
// ListenAuto becomes this machine's one non-loopback IPv4 address, and a
// machine with none or several is refused, naming them.
func resolveListen(listen string) (string, error) {
	if listen != ListenAuto {
		return listen, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("--listen auto: %w", err)
	}
	return soleAddress(addrs)
}

// soleAddress is the one IPv4 address of addrs that is not loopback.
func soleAddress(addrs []net.Addr) (string, error) {
	var found []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			found = append(found, n.IP.String())
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", errkind.Invalidf("--listen auto: this machine has no IPv4 address but loopback; give --listen IP")
	}
	return "", errkind.Invalidf("--listen auto: this machine has %d IPv4 addresses (%s): give --listen with the one others reach", len(found), strings.Join(found, ", "))
}

// JoinSecretEnv is the environment variable `devnet up` and `node join`
// take a join secret from (a pod's, from its Secret).
const JoinSecretEnv = "SESSIONCTL_JOIN_SECRET"

// joinSecretChars is what a join secret is made of: it goes in a URL path.
var joinSecretChars = lazyRegexp(`^[A-Za-z0-9_-]{16,128}$`)

// ErrJoinSecret is a join secret that is malformed, or that the devnet
// does not know.
var ErrJoinSecret = errors.New("wrong join secret")

// checkJoinSecret checks a join secret given to a devnet or a joiner.
func checkJoinSecret(s string) error {
	if !joinSecretChars().MatchString(s) {
		return errkind.Invalidf("%w: want 16 to 128 letters, digits, '-' or '_' (openssl rand -hex 16 makes one); it goes in the join URL", ErrJoinSecret)
	}
	return nil
}

// JoinURL is the join URL of a devnet (http://HOST:PORT/join/SECRET, as
// 'devnet up' prints it) from what `node join` was given: that URL, or the
// devnet's address (http://HOST:PORT) and its secret apart (a pod's, from
// SESSIONCTL_JOIN_SECRET). Anything else is an errkind.Invalid error.
func JoinURL(raw, secret string) (string, error) {
	if secret == "" {
		if _, err := NewJoinClient(raw); err != nil {
			return "", errkind.AsInvalid(err)
		}
		return raw, nil
	}
	if err := checkJoinSecret(secret); err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return "", errkind.Invalidf("%q with a join secret apart: want the devnet's address alone, http://HOST:PORT (the secret is not in the URL twice)", raw)
	}
	return u.Scheme + "://" + u.Host + "/join/" + secret, nil
}

// HostData is dir/HOST, HOST this machine's host name: the data directory
// of a node whose pod shares one volume with others (podman plays a
// Deployment's pods on one volume; a pod's host name is its name, which
// stays the same when it restarts).
func HostData(dir string) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("--host-subdir: %w", err)
	}
	if !validHost(host) {
		return "", errkind.Invalidf("--host-subdir: the host name %q is not a DNS name; give each node its own --data", host)
	}
	return filepath.Join(dir, host), nil
}
