package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// Hosts for scripts: network namespaces joined by a bridge in the test's
// own namespace, which reaches all of them (the script's sessionctl
// commands run there, as a client on the same network would).
//
//	netns up H...        make hosts: $H is the namespace's name, $H_ip its address
//	netns cut H          take H's link down: nothing reaches it, it reaches nothing
//	netns heal H         bring it back, without delay
//	netns delay H 50ms   delay every packet H sends and receives (netem)
//	netns slow H RATE    limit what H sends and receives to RATE (tbf), as 1mbit
//
// Everything is removed when the script ends, processes in the hosts
// included. The condition [netns] holds where this can work: as root,
// with ip(8) and tc(8), and a namespace can be made; [netem] where the
// kernel has netem too (some, as Firecracker's, are built without it).

var (
	netnsOnce sync.Once
	netnsOK   bool
	netnsWhy  string
	netemOK   bool // the kernel has netem (CONFIG_NET_SCH_NETEM)
)

// netnsAvailable tries, once, to make and remove a namespace.
func netnsAvailable() (bool, string) {
	netnsOnce.Do(func() {
		if os.Geteuid() != 0 {
			netnsWhy = "not root"
			return
		}
		for _, prog := range []string{"ip", "tc"} {
			if _, err := exec.LookPath(prog); err != nil {
				netnsWhy = prog + " is not installed"
				return
			}
		}
		name := fmt.Sprintf("scprobe%d", os.Getpid()%100000)
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			netnsWhy = "ip netns add: " + strings.TrimSpace(string(out))
			return
		}
		netemOK = exec.Command("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms").Run() == nil
		exec.Command("ip", "netns", "delete", name).Run()
		netnsOK = true
	})
	return netnsOK, netnsWhy
}

// netnsState is a script's hosts.
type netnsState struct {
	prefix string // of names: unique to the script
	subnet int    // 10.SUBNET.0.0/24
	hosts  []string
}

func (s *netnsState) ns(h string) string   { return s.prefix + h }
func (s *netnsState) link(h string) string { return s.prefix + h + "b" } // the bridge's end
func (s *netnsState) bridge() string       { return s.prefix + "br" }

var netnsSeq struct {
	sync.Mutex
	n int
}

func cmdNetns(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: netns up H... | cut H | heal H | delay H DURATION | slow H RATE")
	}
	netnsStates.Lock()
	st := netnsStates.m[ts]
	netnsStates.Unlock()
	run := func(argv ...string) {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			ts.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
	}
	known := func(h string) {
		if st == nil || !contains(st.hosts, h) {
			ts.Fatalf("netns: no host %q (netns up makes them)", h)
		}
	}
	switch args[0] {
	case "up":
		if st != nil {
			ts.Fatalf("netns up: once a script")
		}
		netnsSeq.Lock()
		netnsSeq.n++
		seq := netnsSeq.n
		netnsSeq.Unlock()
		id := (os.Getpid()*7 + seq) % 200
		st = &netnsState{prefix: fmt.Sprintf("sc%d%d", os.Getpid()%1000, seq%10), subnet: 20 + id}
		ts.Defer(func() { st.teardown() })
		run("ip", "link", "add", st.bridge(), "type", "bridge")
		run("ip", "addr", "add", fmt.Sprintf("10.%d.0.254/24", st.subnet), "dev", st.bridge())
		run("ip", "link", "set", st.bridge(), "up")
		for i, h := range args[1:] {
			ns := st.ns(h)
			st.hosts = append(st.hosts, h)
			run("ip", "netns", "add", ns)
			run("ip", "link", "add", st.link(h), "type", "veth", "peer", "name", "eth0", "netns", ns)
			run("ip", "link", "set", st.link(h), "master", st.bridge(), "up")
			ip := fmt.Sprintf("10.%d.0.%d", st.subnet, i+1)
			run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
			run("ip", "-n", ns, "link", "set", "eth0", "up")
			run("ip", "-n", ns, "link", "set", "lo", "up")
			run("ip", "-n", ns, "route", "add", "default", "via", fmt.Sprintf("10.%d.0.254", st.subnet))
			ts.Setenv(h, ns)
			ts.Setenv(h+"_ip", ip)
		}
		netnsStates.Lock()
		netnsStates.m[ts] = st
		netnsStates.Unlock()
		ts.Defer(func() {
			netnsStates.Lock()
			delete(netnsStates.m, ts)
			netnsStates.Unlock()
		})
	case "cut":
		known(args[1])
		run("ip", "link", "set", st.link(args[1]), "down")
	case "heal":
		known(args[1])
		exec.Command("tc", "qdisc", "del", "dev", st.link(args[1]), "root").Run()
		exec.Command("ip", "netns", "exec", st.ns(args[1]), "tc", "qdisc", "del", "dev", "eth0", "root").Run()
		run("ip", "link", "set", st.link(args[1]), "up")
	case "delay":
		if len(args) != 3 {
			ts.Fatalf("usage: netns delay H DURATION")
		}
		known(args[1])
		run("tc", "qdisc", "replace", "dev", st.link(args[1]), "root", "netem", "delay", args[2])
		run("ip", "netns", "exec", st.ns(args[1]), "tc", "qdisc", "replace", "dev", "eth0", "root", "netem", "delay", args[2])
	case "slow":
		if len(args) != 3 {
			ts.Fatalf("usage: netns slow H RATE")
		}
		known(args[1])
		tbf := []string{"root", "tbf", "rate", args[2], "burst", "16kb", "latency", "2s"}
		run(append([]string{"tc", "qdisc", "replace", "dev", st.link(args[1])}, tbf...)...)
		run(append([]string{"ip", "netns", "exec", st.ns(args[1]), "tc", "qdisc", "replace", "dev", "eth0"}, tbf...)...)
	default:
		ts.Fatalf("netns: unknown %q: want up, cut, heal, delay or slow", args[0])
	}
}

// netnsStates are the hosts of each running script.
var netnsStates = struct {
	sync.Mutex
	m map[*testscript.TestScript]*netnsState
}{m: map[*testscript.TestScript]*netnsState{}}

// teardown kills what runs in the hosts and removes them and the bridge.
func (s *netnsState) teardown() {
	for _, h := range s.hosts {
		out, _ := exec.Command("ip", "netns", "pids", s.ns(h)).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-KILL", pid).Run()
		}
		exec.Command("ip", "link", "delete", s.link(h)).Run()
		exec.Command("ip", "netns", "delete", s.ns(h)).Run()
	}
	exec.Command("ip", "link", "delete", s.bridge()).Run()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
