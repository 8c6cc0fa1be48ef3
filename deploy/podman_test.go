package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// containersConf is what podman 4.3 needs on these machines (Debian's,
// in a container without systemd): runc, not crun, cgroups without
// systemd, and no default ulimits it may not set.
const containersConf = `[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
`

// The names the podman rendering gives (podman names a pod's container
// POD-CONTAINER, a Deployment's pods NAME-pod-I).
const (
	devnetCtr  = "sessionctl-devnet-devnet"
	nodePods   = 6
	seedOnHost = "127.0.0.1:4000"
)

// pm runs podman with the test's containers.conf.
type pm struct {
	t    *testing.T
	conf string
}

func (p pm) run(args ...string) (string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), err
}

func (p pm) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// sessionctl runs sessionctl in the devnet's pod, as kubectl exec would.
func (p pm) sessionctl(args ...string) (string, error) {
	return p.run(append([]string{"exec", devnetCtr, "sessionctl"}, args...)...)
}

// eventually polls cond until it holds, failing after d with what it
// last said.
func eventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last: %s", what, d, last)
}

// podmanReady says why podman cannot run the test here ("" if it can).
func podmanReady(p pm) string {
	switch {
	case runtime.GOOS != "linux":
		return "podman kube play runs on Linux"
	case os.Geteuid() != 0:
		return "needs root (rootful podman: pods reach each other by name, volumes as the test reads them)"
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return "no podman (Debian: apt-get install podman runc)"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "no runc (Debian: apt-get install runc)"
	}
	if _, err := p.run("info"); err != nil {
		return "podman does not run here: " + err.Error()
	}
	if _, err := p.run("pod", "exists", "sessionctl-devnet"); err == nil {
		return "a devnet of deploy/podman already runs here (podman pod ls): the test would take its names"
	}
	for _, port := range []string{"4000", "4001", "4002"} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return "127.0.0.1:" + port + " is taken: the podman rendering publishes the devnet's seed, control endpoint and proxy there"
		}
		l.Close()
	}
	return ""
}

// imageOf is the image the rendering runs.
func imageOf(t *testing.T, yaml string) string {
	m := regexp.MustCompile(`(?m)^\s+image: (\S+)$`).FindStringSubmatch(yaml)
	if m == nil {
		t.Fatal("the rendering names no image")
	}
	return m[1]
}

// TestPodman plays deploy/podman/sessionctl.yaml for real: it builds the
// image from the Containerfile (the static binary alone: nothing is
// pulled), plays the devnet's pod and 6 node pods, waits until the nodes
// are active on the ledger, sends and fetches messages through them, kills
// a node's pod and waits until the quorums vote it down, fetches what it
// held, restarts the devnet's pod and sends again. Everything it played is
// torn down at the end, failed or not, and the image it built removed (an
// image the machine had under its name gets the name back).
func TestPodman(t *testing.T) {
	began := time.Now()
	p := pm{t: t, conf: filepath.Join(t.TempDir(), "containers.conf")}
	if err := os.WriteFile(p.conf, []byte(containersConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if why := podmanReady(p); why != "" {
		t.Skip("podman: " + why)
	}
	rendered, err := os.ReadFile(podmanYAML)
	if err != nil {
		t.Fatal(err)
	}
	image := imageOf(t, string(rendered))

	// The image: the static binary, stamped with a commit, and the
	// Containerfile, alone in a build context.
	ctxDir := t.TempDir()
	commit := "feedc0ffee0123456789abcdef0123456789abcd"
	build := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-trimpath",
		"-ldflags", "-s -w -X github.com/sessionctl/sessionctl/internal/buildinfo.commit="+commit, "-o", filepath.Join(ctxDir, "sessionctl"), "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, f := range []string{"Containerfile", ".containerignore"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The image the machine had under that name, if any, gets it back.
	old, err := p.run("image", "inspect", "--format", "{{.Id}}", image)
	if old = strings.TrimSpace(old); err != nil {
		old = ""
	}
	built := strings.TrimSpace(p.must("build", "-q", "-t", image, "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir))
	t.Cleanup(func() {
		if built == old {
			return
		}
		p.run("rmi", "-f", built)
		if old != "" {
			p.run("tag", old, image)
		}
	})
	if v := p.must("run", "--rm", image, "--version"); !strings.Contains(v, commit[:12]) {
		t.Fatalf("--version in the image: %q, want the commit %s", v, commit[:12])
	}
	t.Logf("image %s: %s bytes, built in %v", image, strings.TrimSpace(p.must("image", "inspect", "--format", "{{.Size}}", image)), time.Since(began).Round(time.Second))

	// Play; tear down always (the pods, then their volumes), saying first
	// what the pods logged when the test failed.
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.run("ps", "-a", "--filter", "name=sessionctl-", "--format", "{{.Names}}")
			for _, c := range strings.Fields(out) {
				if logs, err := p.run("logs", "--tail", "20", c); err == nil {
					t.Logf("%s:\n%s", c, logs)
				}
			}
		}
		if out, err := p.run("kube", "down", podmanYAML); err != nil {
			t.Errorf("tear down: %v\n%s", err, out)
		}
		if out, err := p.run("volume", "rm", "-f", "sessionctl-devnet", "sessionctl-nodes"); err != nil {
			t.Errorf("remove the volumes: %v\n%s", err, out)
		}
	})
	played := time.Now()
	p.must("kube", "play", "--build=false", podmanYAML)

	// The nodes join: every one active on the ledger.
	eventually(t, "6 node pods active on the ledger", 3*time.Minute, func() (bool, string) {
		out, err := p.sessionctl("ledger", "info", "--json")
		var info struct {
			Active int `json:"active_nodes"`
		}
		if err != nil || json.Unmarshal([]byte(out), &info) != nil {
			return false, fmt.Sprint(out, err)
		}
		return info.Active == nodePods, out
	})
	t.Logf("%d nodes active %v after kube play", nodePods, time.Since(played).Round(time.Second))

	// A client outside the pods, at the seed published on the host: every
	// node is listed at its pod's address and its edge's port (once it
	// published them, a block after it registered).
	eventually(t, "the seed lists every node at its pod's address", time.Minute, func() (bool, string) {
		nodes := seedNodes(t)
		for _, n := range nodes {
			if ip := net.ParseIP(n.IP); ip == nil || ip.IsUnspecified() || ip.IsLoopback() || n.Port != 4443 {
				return false, fmt.Sprintf("a node at %s:%d", n.IP, n.Port)
			}
		}
		return len(nodes) == nodePods, fmt.Sprintf("%d nodes", len(nodes))
	})

	// Messages through the node pods (the devnet has no nodes of its own):
	// once the clients are introduced, stored by every node.
	eventually(t, "the clients introduced", time.Minute, func() (bool, string) {
		out, err := p.sessionctl("logs", "devnet")
		return err == nil && strings.Contains(out, "the clients were introduced"), fmt.Sprint(err)
	})
	eventually(t, "a message stored by every node", time.Minute, func() (bool, string) {
		out, err := p.sessionctl("send", "--from", "alice", "--to", "bob", "hello pods")
		return err == nil && strings.Contains(out, fmt.Sprintf("stored by %d nodes", nodePods)), fmt.Sprint(out, err)
	})
	if out, err := p.sessionctl("fetch", "--as", "bob"); err != nil || !strings.Contains(out, "from alice") || !strings.Contains(out, ": hello pods") {
		t.Fatalf("fetch as bob: %v\n%s", err, out)
	}
	const held = 5
	for i := 0; i < held; i++ {
		if out, err := p.sessionctl("send", "--from", "bob", "--to", "carol", fmt.Sprintf("before the kill %d", i)); err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		}
	}

	// Kill one node's pod: the quorums vote it down, and carol still gets
	// every message it held.
	victim := "sessionctl-node-pod-3"
	key := nodeKey(t, p, victim)
	p.must("pod", "kill", victim)
	killed := time.Now()
	eventually(t, "the killed node voted down", 4*time.Minute, func() (bool, string) {
		out, err := p.sessionctl("ledger", "nodes", "--json")
		var ls struct {
			Nodes []struct {
				Key   string `json:"ed25519_pubkey"`
				State string `json:"state"`
			} `json:"nodes"`
		}
		if err != nil || json.Unmarshal([]byte(out), &ls) != nil {
			return false, fmt.Sprint(err)
		}
		for _, n := range ls.Nodes {
			if n.Key == key {
				return n.State == "decommissioned", n.State
			}
		}
		return false, "not listed"
	})
	t.Logf("%s voted down %v after its pod was killed", victim, time.Since(killed).Round(time.Second))
	out, err := p.sessionctl("fetch", "--as", "carol")
	if err != nil || strings.Count(out, "before the kill") != held {
		t.Fatalf("after the kill, carol fetched %d of %d messages (%v):\n%s", strings.Count(out, "before the kill"), held, err, out)
	}

	// The devnet's pod stopped and started again: the nodes go on with it
	// (its name, its ports, its chain on the volume). (podman 4.3's 'pod
	// restart' now and then signals the new process as it starts.)
	p.must("pod", "stop", "sessionctl-devnet")
	p.must("pod", "start", "sessionctl-devnet")
	eventually(t, "a message after the devnet's restart", 2*time.Minute, func() (bool, string) {
		out, err := p.sessionctl("send", "--from", "carol", "--to", "alice", "after the restart")
		return err == nil && strings.Contains(out, fmt.Sprintf("stored by %d nodes", nodePods-1)), fmt.Sprint(out, err)
	})
	if out, err := p.sessionctl("fetch", "--as", "alice"); err != nil || !strings.Contains(out, "after the restart") {
		t.Fatalf("fetch as alice after the restart: %v\n%s", err, out)
	}
	t.Logf("TestPodman: %v in all", time.Since(began).Round(time.Second))
}

// seedNode is a node as the seed lists it.
type seedNode struct {
	IP   string `json:"public_ip"`
	Port int    `json:"storage_port"`
}

// seedNodes asks the seed, from the host, for the active nodes.
func seedNodes(t *testing.T) []seedNode {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"get_n_service_nodes","params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true}}}`
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post("http://"+seedOnHost+"/json_rpc", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("the seed on the host: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var res struct {
		Result struct {
			States []seedNode `json:"service_node_states"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &res); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the seed answered %d: %s (%v)", resp.StatusCode, b, err)
	}
	return res.Result.States
}

// nodeKey is the key of the node a pod runs, from its ready file on the
// nodes' volume (each node in a directory named after its pod).
func nodeKey(t *testing.T, p pm, pod string) string {
	t.Helper()
	mount := strings.TrimSpace(p.must("volume", "inspect", "--format", "{{.Mountpoint}}", "sessionctl-nodes"))
	b, err := os.ReadFile(filepath.Join(mount, pod, "node.json"))
	var info struct {
		Key string `json:"ed25519_pubkey"`
	}
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err == nil && info.Key == "" {
		err = errors.New("no key")
	}
	if err != nil {
		t.Fatalf("%s's node: %v", pod, err)
	}
	return info.Key
}
