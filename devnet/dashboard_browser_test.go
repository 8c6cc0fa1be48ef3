package devnet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sessionctl/sessionctl/client"
)

// browser finds a Chromium to drive; .ci/run installs Debian's.
func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium here (.ci/run installs Debian's chromium)")
	return ""
}

// TestDashboardInBrowser loads the dashboard in a real, headless Chromium
// against a running devnet and checks what a teacher would look at: the
// ring is drawn from the snapshot, a message sent appears as its path
// (guard, middle, exit, destination, with a caption a hop) and its
// replicas, and a node killed turns to "killed" on the page. It saves
// screenshots (DASH_SCREENSHOTS=DIR keeps them: the
// README's comes from here).
func TestDashboardInBrowser(t *testing.T) {
	exe := browser(t)
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 12, BlockTime: BlockTimeManual})
	t.Cleanup(func() { d.Close() })
	m := d.Manifest()
	if !strings.Contains(m.Dashboard.URL, "/dash/") {
		t.Fatalf("no dashboard in the manifest: %+v", m.Dashboard)
	}
	shots := os.Getenv("DASH_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The page's uncaught exceptions fail the test (an exception in a
	// frame stops the drawing: nothing else would say so).
	var jsMu sync.Mutex
	var jsErrors []string
	console := chromedp.Console(ctx) // the first call starts the browser (and must have no deadline)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for msg, err := range console {
			if err != nil {
				return
			}
			if msg.IsException() {
				jsMu.Lock()
				jsErrors = append(jsErrors, msg.String())
				jsMu.Unlock()
			}
		}
	}()
	defer func() {
		cancel()
		<-consoleDone
		for _, e := range jsErrors {
			t.Errorf("the page threw: %s", e)
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(m.Dashboard.URL)); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	// The page is waited on for what it shows, for as long as the test
	// may run: on a loaded machine the browser, the events and the state
	// it reloads all come late, and a fixed few seconds is no bound on that
	// (how fast the page follows is the dashboard's to measure, not this
	// test's to assert).
	waitFor := pageWait(t)
	poll := func(expr string) error {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(waitFor)))
		return err
	}
	shoot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := poll(`window.dash.state !== null && document.getElementById("conn").textContent === "live"`); err != nil {
		t.Fatalf("the page did not load: %v", err)
	}
	// The manifest's dashboard is the viewer link: it says so and has no
	// buttons (a node's panel neither).
	if err := poll(`document.getElementById("role").dataset.role === "viewer" && document.getElementById("role").textContent.includes("changes nothing")` +
		` && !document.getElementById("mine") && (window.dash.selected = "node-1", showNode(), document.querySelectorAll("#nodeinfo button").length === 0)`); err != nil {
		t.Errorf("the viewer link shows buttons or does not say it is the viewer's: %v", err)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.dash.state.nodes.length`))
	if err != nil || nodes != 12 {
		t.Fatalf("the page shows %d nodes (%v), want 12", nodes, err)
	}
	// Every panel was drawn from the snapshot (a script error leaves "…").
	for sel, want := range map[string]string{"#round": "commits", "#credits": "node-", "#rooms": "Lobby"} {
		text, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil || !strings.Contains(text, want) {
			t.Errorf("panel %s: %q (%v), want it to contain %q", sel, text, err, want)
		}
	}
	// The nodes are spread along their swarms' arcs: no two dots touch
	// (they piled up at their swarm's ID).
	spread, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
		const ps = Object.values(window.dash.layout.pos); let min = 1e9;
		for (let i = 0; i < ps.length; i++) for (let j = i + 1; j < ps.length; j++) min = Math.min(min, Math.hypot(ps[i].x - ps[j].x, ps[i].y - ps[j].y));
		return min / window.dash.layout.dot; })()`))
	if err != nil || spread < 2 {
		t.Errorf("the closest two nodes are %.1f dot radii apart (%v), want at least 2", spread, err)
	}
	// Credits, lowest first: the node burning its credit is the one shown.
	lowest, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const order = document.getElementById("credits").dataset.order.split(",").map((n) => window.dash.nodes[n].credit);
		return order.length > 0 && order.every((c, i) => i === 0 || order[i - 1] <= c) &&
			order[0] === Math.min(...window.dash.state.nodes.filter((n) => n.state === "active").map((n) => n.credit)); })()`))
	if err != nil || !lowest {
		text, _ := chromedp.Run(ctx, chromedp.Text("#credits"))
		t.Errorf("the credit panel does not list the lowest credits first (%v):\n%s", err, text)
	}

	// A message: its path appears, hop by hop, then its replicas.
	alice := clientT(t, d.Network.LedgerURL(), client.Config{Keys: ClientKeys(m.Seed, "alice")})
	sctx, scancel := context.WithTimeout(context.Background(), waitFor)
	defer scancel()
	res, err := alice.Send(sctx, ClientKeys(m.Seed, "bob").AccountID(), "watch me travel")
	if err != nil {
		t.Fatal(err)
	}
	// The send is shown as `send` shows it (device.Cmd.Send reports it so):
	// the path panel has the path it printed, and the onion requests the
	// nodes carried are told apart: the send's own (with its replicas),
	// its sync copy, the path test.
	if err := Dir(dir).ShowSent(sctx, "alice", res); err != nil {
		t.Fatal(err)
	}
	g, mid, x, dest := d.dash.name(res.Path.Guard), d.dash.name(res.Path.Middle), d.dash.name(res.Path.Exit), d.dash.name(res.Path.Destination)
	shown := fmt.Sprintf(`document.getElementById("path").dataset.nodes === %q && document.getElementById("path").dataset.kind === "send"`, strings.Join([]string{g, mid, x, dest}, ","))
	if err := poll(shown); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text("#path"))
		t.Fatalf("the path panel does not show the send's path %s, %s, %s, %s: %v\n%s", g, mid, x, dest, err, text)
	}
	own := `window.dash.requests.some((r) => r.kind === "send" && r.id === window.dash.send.request && r.hops.length === 4 && (r.replicas || []).length > 0)`
	if err := poll(own + ` && document.getElementById("others").dataset.kinds.split(",").includes("sync copy")`); err != nil {
		reqs, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.dash.requests)`))
		t.Fatalf("the send's own request (with its replicas) and its sync copy are not told apart: %v\nrequests on the page: %s", err, reqs)
	}
	// Its hops are animated one at a time, each with its caption.
	if err := poll(`!document.getElementById("caption").hidden && document.getElementById("caption").textContent.includes("the ")`); err != nil {
		t.Errorf("no caption for the send's hops: %v", err)
	}
	pathText, err := chromedp.Run(ctx, chromedp.Text("#path"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"guard", "middle", "exit", "destination", "knows your address"} {
		if !strings.Contains(pathText, want) {
			t.Errorf("the path panel lacks %q:\n%s", want, pathText)
		}
	}
	shoot("dashboard.png")

	// A node killed through the control endpoint (as `sessionctl node kill`).
	cc, err := Dial(sctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cc.Kill(sctx, "node-3"); err != nil {
		t.Fatal(err)
	}
	if err := poll(`document.getElementById("ring").dataset.killed.split(",").includes("node-3") && window.dash.nodes["node-3"].running === false`); err != nil {
		t.Fatalf("the killed node did not turn on the page: %v", err)
	}
	killed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("ring").dataset.killed`))
	if err != nil || killed != "node-3" {
		t.Errorf("killed on the page: %q (%v), want node-3", killed, err)
	}
	// The timeline keeps it, with the message's store before it.
	if err := poll(`document.getElementById("timeline").textContent.includes("node-3 killed") && document.getElementById("timeline").textContent.includes("a message for bob")`); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text("#timeline"))
		t.Errorf("the timeline lacks the kill or the store (%v):\n%s", err, text)
	}
	// Until a round's votes decommission it, the ledger holds it active.
	if err := poll(`document.getElementById("nodecount").textContent === "11 running, 12 active on the ledger"`); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text("#nodecount"))
		t.Errorf("the header says %q (%v), want 11 running, 12 active on the ledger", text, err)
	}
	// A client's call at the seed shows in the edge panel's counts.
	resp, err := http.Post(m.SeedNode.URL+"/json_rpc", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"get_info"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := poll(`(refreshSoon(), document.getElementById("edge").textContent.includes("json_rpc/get_info"))`); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text("#edge"))
		t.Fatalf("the edge panel did not count the seed's request: %v (%q)", err, text)
	}
	// Large type, for a projector, and the last screenshot.
	if err := chromedp.Do(ctx, chromedp.Click("#bigtype")); err != nil {
		t.Fatal(err)
	}
	if err := poll(`document.body.classList.contains("big")`); err != nil {
		t.Fatalf("large type did not turn on: %v", err)
	}
	shoot("dashboard-large.png")

	// Presenter mode at a projector's 1280x720 (the same tab: a tab in the
	// background draws no frames): large type, and nothing overflows
	// (nothing cut off, no scrollbar), while a send's hop is captioned over
	// the ring and after.
	pctx := ctx
	if err := chromedp.Do(pctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(m.Dashboard.URL+"?present")); err != nil {
		t.Fatalf("open the presenter view: %v", err)
	}
	ppoll := func(expr string) error {
		_, err := chromedp.Run(pctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(min(waitFor, 40*time.Second))))
		return err
	}
	pshoot := func(name string) {
		png, err := chromedp.Run(pctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ppoll(`window.dash.state !== null && document.getElementById("conn").textContent === "live" && document.body.classList.contains("present") && window.dash.timeline.length > 0`); err != nil {
		t.Fatalf("the presenter view did not load: %v", err)
	}
	res, err = alice.Send(sctx, ClientKeys(m.Seed, "bob").AccountID(), "the room watches this one")
	if err != nil {
		t.Fatal(err)
	}
	if err := Dir(dir).ShowSent(sctx, "alice", res); err != nil {
		t.Fatal(err)
	}
	if err := ppoll(`!document.getElementById("caption").hidden && +document.getElementById("caption").dataset.hop >= 1`); err != nil {
		diag, _ := chromedp.Run(pctx, chromedp.Evaluate[string](`JSON.stringify({send: window.dash.send, t0: window.dash.sendT0, now: performance.now(), caption: document.getElementById("caption").outerHTML, hidden: document.hidden})`))
		t.Fatalf("no hop captioned in the presenter view: %v\n%s", err, diag)
	}
	fits := func(when string) {
		t.Helper()
		bad, err := chromedp.Run(pctx, chromedp.Evaluate[[]string](overflows))
		if err != nil {
			t.Fatal(err)
		}
		if innerW, err := chromedp.Run(pctx, chromedp.Evaluate[int](`innerWidth * 1000 + innerHeight`)); err != nil || innerW != 1280*1000+720 {
			t.Fatalf("the viewport is %d (%v), want 1280x720", innerW, err)
		}
		for _, b := range bad {
			t.Errorf("presenter view, %s: %s overflows", when, b)
		}
	}
	fits("during a send")
	pshoot("present-send.png")
	if err := ppoll(`document.getElementById("caption").hidden`); err != nil {
		t.Fatalf("the caption stayed: %v", err)
	}
	fits("after it")
	pshoot("present.png")

	// The operator link: the page says it is the operator view, takes the
	// token out of the address bar, and its button changes the devnet.
	if err := chromedp.Do(ctx, chromedp.Navigate(m.DashboardOperator.URL)); err != nil {
		t.Fatal(err)
	}
	if err := poll(`document.getElementById("role").dataset.role === "operator" && document.getElementById("role").textContent.includes("operator view") && location.hash === "" && !!document.getElementById("mine")`); err != nil {
		where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.getElementById("role").textContent`))
		t.Fatalf("the operator link is not the operator view: %v (%s)", err, where)
	}
	h0 := d.Network.Ledger.Info().Height
	if err := chromedp.Do(ctx, chromedp.Click("#mine")); err != nil {
		t.Fatal(err)
	}
	if err := poll(fmt.Sprintf(`+document.getElementById("height").textContent > %d`, h0)); err != nil {
		t.Errorf("the operator's Mine did not make a block: %v", err)
	}
	t.Logf("screenshots in %s", shots)
}

// overflows is a script that lists what overflows the viewport or its box
// on the page: the page itself (a scrollbar), the header and its items, the
// legend, the caption, the right column's sections and what is in them
// (presenter mode clips them: a row cut off is a row not shown).
const overflows = `(() => {
	const W = innerWidth, H = innerHeight, bad = [], de = document.documentElement;
	const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
	if (de.scrollWidth > W || de.scrollHeight > H) {
		const out = [...document.querySelectorAll("body *")].filter((el) => { const r = el.getBoundingClientRect(); return r.bottom > H || r.right > W; }).slice(0, 5).map(name);
		bad.push("the page (" + de.scrollWidth + "x" + de.scrollHeight + ": " + out.join(", ") + ")");
	}
	const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
	for (const el of document.querySelectorAll("header, header > *, #left, #legend, #caption, #right, #right > section")) {
		if (!shown(el)) continue;
		const r = el.getBoundingClientRect();
		if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) bad.push(name(el) + " (" + [r.left, r.top, r.right, r.bottom].map(Math.round) + ")");
		if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) bad.push(name(el) + " (content " + el.scrollWidth + "x" + el.scrollHeight + " in " + el.clientWidth + "x" + el.clientHeight + ")");
	}
	for (const sec of document.querySelectorAll("#right > section")) {
		if (!shown(sec)) continue;
		const b = sec.getBoundingClientRect();
		for (const el of sec.querySelectorAll("*")) {
			if (!shown(el)) continue;
			const r = el.getBoundingClientRect();
			if (r.right > b.right + 1 || r.bottom > b.bottom + 1) bad.push(name(el) + " in " + name(sec));
		}
	}
	return bad;
})()`

// pageWait is how long a test waits for the page to show something: until
// a minute before the test's deadline (go test -timeout), at most 5
// minutes.
func pageWait(t *testing.T) time.Duration {
	d := 5 * time.Minute
	if dl, ok := t.Deadline(); ok {
		d = min(d, time.Until(dl)-time.Minute)
	}
	return max(d, 30*time.Second)
}
