package devnet

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/display"
)

// What a devnet shows a person: the banner `devnet up` prints, its status,
// its nodes. (Scripts read the manifest and --json instead.)

// bannerNodes is how many nodes the banner lists.
const bannerNodes = 20

// bannerLabel is the width of the banner's labels: "Dashboard" and
// "Community", the longest.
const bannerLabel = len("Community")

// WriteBanner writes what a person needs to use the devnet of the
// manifest, running in d: its clients and their recovery phrases, its
// endpoints, its nodes, a first command; took is how long it took to be
// ready (0: not said), detached a devnet in the background (its pid said).
func (m *Manifest) WriteBanner(w io.Writer, d Dir, took time.Duration, detached bool) {
	swarms := map[string]bool{}
	for _, n := range m.Nodes {
		if n.SwarmID != "" {
			swarms[n.SwarmID] = true
		}
	}
	ready := ""
	if took > 0 {
		ready = fmt.Sprintf(", ready in %v", took.Round(time.Millisecond))
	}
	if len(m.Nodes) == 0 {
		fmt.Fprintf(w, "sessionctl devnet: seed %q, no service nodes of its own: they join it (Join, below)%s\n\n", m.Seed, ready)
	} else {
		fmt.Fprintf(w, "sessionctl devnet: seed %q, %s in %s%s\n\n", m.Seed, display.Plural(len(m.Nodes), "service node"), display.Plural(len(swarms), "swarm"), ready)
	}
	fmt.Fprintln(w, "Clients (their recovery phrases restore them in any Session app; devnet use only):")
	ks := d.Keystore()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cl := range m.Clients {
		phrase := ""
		if e, err := ks.Get(cl.Name); err == nil {
			phrase = e.Keys.Phrase()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", cl.Name, cl.AccountID, phrase)
	}
	tw.Flush()
	// The endpoints, a line each: the label in a column as wide as the
	// longest ("Dashboard", "Community"), then what to use and why.
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-*s %s\n", bannerLabel, label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(w)
	line("Ledger", "%s", m.Ledger.URL)
	line("Control", "%s  (token in %s)", m.Control.URL, d.ManifestFile())
	if m.Dashboard.URL != "" {
		line("Dashboard", "%s  (the viewer link, for the projector and the room: shows everything, changes nothing)", m.Dashboard.URL)
	}
	if m.DashboardOperator.URL != "" {
		line("Operator", "%s  (the dashboard with kill, restart and mine: keep it to yourself)", m.DashboardOperator.URL)
	}
	if m.Join.URL != "" {
		line("Join", "sessionctl node join %s  (runs a node of this devnet, from any machine that reaches it)", m.Join.URL)
	}
	line("Seed", "LOCAL_DEVNET_SEED_URL=%s  (point a Session app or library here)", m.SeedNode.URL)
	if m.Proxy.URL != "" {
		line("Proxy", "%s  (for clients that hard-code the real hosts: seed1.getsession.org, filev2, open.getsession.org)", m.Proxy.URL)
	}
	for _, s := range m.Servers {
		line(strings.ToUpper(s.Kind[:1])+s.Kind[1:], "%s  (x25519 %s)", s.URL, s.X25519Pubkey)
		for _, r := range s.Rooms {
			fmt.Fprintf(w, "  room %s: %s  (join link for Session apps; %s/ shows its QR code)\n", r.Token, r.JoinURL, s.URL)
		}
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(m.Nodes) > 0 {
		fmt.Fprintln(tw, "\n  NODE\tPEER ID\tSWARM\tSTATE")
	}
	for i, n := range m.Nodes {
		if i == bannerNodes {
			fmt.Fprintf(tw, "  ... and %d more: 'sessionctl node ls'\n", len(m.Nodes)-bannerNodes)
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", n.Name, n.PeerID, display.OrDash(n.SwarmID), n.State)
	}
	tw.Flush()
	if len(m.Clients) >= 2 {
		a, b := m.Clients[0].Name, m.Clients[1].Name
		fmt.Fprintf(w, "\nTry:  sessionctl send --from %s --to %s \"hello %s\"   then   sessionctl fetch --as %s\n", a, b, b, b)
	}
	stop := "Ctrl-C or 'sessionctl devnet down' stops it."
	if detached {
		stop = "'sessionctl devnet down' stops it."
	}
	line("Manifest", "%s, logs in %s. %s", d.ManifestFile(), d.LogsDir(), stop)
	if detached {
		fmt.Fprintf(w, "Running in the background (pid %d); stop it with 'sessionctl devnet down'.\n", m.PID)
	}
}

// WriteText writes the status for a person: what runs, and the nodes that
// stopped by themselves.
func (s *Status) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "running (pid %d): seed %q, height %d, %d/%s running, %d active in %s\nledger %s\n",
		s.PID, s.Seed, s.Height, s.NodesRunning, display.Plural(s.Nodes, "node"), s.ActiveNodes, display.Plural(s.Swarms, "swarm"), s.Ledger.URL)
	if len(s.Joined) > 0 {
		fmt.Fprintf(w, "joined: %s (in processes of their own: 'node run', 'node join')\n", strings.Join(s.Joined, ", "))
	}
	for _, name := range slices.Sorted(maps.Keys(s.Exited)) {
		what := "'s process ended" // a node's process (devnet up --procs)
		if !strings.HasPrefix(s.Exited[name], "pid ") {
			what = " stopped" // a node in the devnet's process that failed
		}
		fmt.Fprintf(w, "%s%s by itself: %s ('sessionctl node restart %s' starts it again)\n", name, what, s.Exited[name], name)
	}
	return nil
}

// WriteNodes writes the nodes as 'node ls' shows them.
func WriteNodes(w io.Writer, nodes []ManifestNode) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tED25519\tPEER ID\tSWARM\tSTATE\tCREDIT\tLAST PROOF\tRUNNING")
	for _, n := range nodes {
		running := fmt.Sprint(n.Running)
		switch {
		case n.Exited != "":
			running = "exited" // by itself: 'devnet status' says how
		case n.Joined:
			running = "joined" // its own process, elsewhere
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.Name, n.Ed25519Pubkey[:16], n.PeerID, display.OrDash(n.SwarmID), n.State, n.Credit, n.LastProof, running)
	}
	return tw.Flush()
}

// WriteSnapshots writes the saved snapshots, a line each.
func WriteSnapshots(w io.Writer, snaps []Snapshot) error {
	if len(snaps) == 0 {
		_, err := fmt.Fprintln(w, "no snapshots; 'sessionctl devnet snapshot save NAME' makes one, of a running devnet or a stopped one")
		return err
	}
	for _, s := range snaps {
		fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Saved.Local().Format("2006-01-02 15:04:05"))
	}
	return nil
}
