package main

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

// `sessionctl logs`: the devnet's per-component log files (<dir>/logs) as
// one stream, ordered by time, nodes by name. Each file is in time order
// already, so the files are merged, not sorted: memory stays flat however
// long the logs are.

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "show the devnet's logs as one stream, in time order",
		ArgsUsage: "[COMPONENT|NODE...]",
		Description: "COMPONENT is a log of <dir>/logs: ledger, devnet, nodes (every node), fileserver, community, traffic,\n" +
			"edge (every request at a node's HTTPS edge, the seed or the proxy: what a client called);\n" +
			"NODE is a node's name (node-3). With none, every log.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing lines as they are written (Ctrl-C stops)"},
			&cli.StringFlag{Name: "since", Usage: "only lines from `T` on: a duration back from now (10m) or a time (2026-11-30T04:00:00Z, 04:00)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object a line"},
		},
		Action: logsAction,
	}
}

var nodeNameRE = regexp.MustCompile(`^node-[1-9][0-9]{0,4}$`)

func logsAction(c *cli.Context) error {
	dir := filepath.Join(c.String(dirFlag.Name), "logs")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return errkind.AsNotRunning(fmt.Errorf("no logs under %s (start a devnet with 'sessionctl devnet up')", dir))
	}
	var components []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".log"); ok && !e.IsDir() {
			components = append(components, name)
		}
	}
	sort.Strings(components)
	files := map[string]bool{}
	nodes := map[string]bool{} // node names asked for: only their lines of nodes.log
	for _, a := range c.Args().Slice() {
		switch {
		case slices.Contains(components, a):
			files[a] = true
		case nodeNameRE.MatchString(a) && slices.Contains(components, "nodes"):
			nodes[a] = true
		default:
			return errkind.Invalidf("no log %q: the logs are %s, or a node's name (node-3)", a, strings.Join(components, ", "))
		}
	}
	if len(nodes) > 0 && !files["nodes"] {
		files["nodes"] = true
	} else if len(nodes) > 0 {
		clear(nodes) // "nodes" asked for as a whole
	}
	if len(files) == 0 {
		for _, n := range components {
			files[n] = true
		}
	}
	var since time.Time
	if s := c.String("since"); s != "" {
		if since, err = parseSince(s, time.Now()); err != nil {
			return errkind.Invalidf("--since %q: %v", s, err)
		}
	}
	out := bufio.NewWriter(c.App.Writer)
	defer out.Flush()
	emit := func(l logLine) error {
		if !since.IsZero() && !l.at.IsZero() && l.at.Before(since) {
			return nil
		}
		if len(nodes) > 0 && l.file == "nodes" && !nodes[l.component] {
			return nil
		}
		if c.Bool("json") {
			out.Write(l.json())
		} else {
			out.WriteString(l.console())
		}
		return out.WriteByte('\n')
	}
	var readers []*logReader
	for name := range files {
		r, err := openLog(filepath.Join(dir, name+".log"), name)
		if err != nil {
			return err
		}
		defer r.f.Close()
		readers = append(readers, r)
	}
	if err := mergeLogs(readers, emit); err != nil {
		return err
	}
	if !c.Bool("follow") {
		return nil
	}
	out.Flush()
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// What was written since, file by file, each in its order.
		var fresh []logLine
		for _, r := range readers {
			for {
				l, ok := r.next()
				if !ok {
					break
				}
				fresh = append(fresh, l)
			}
		}
		sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].at.Before(fresh[j].at) })
		for _, l := range fresh {
			if err := emit(l); err != nil {
				return err
			}
		}
		out.Flush()
	}
}

// parseSince reads --since: a duration back from now, an RFC 3339 time, or
// a clock time today (15:04 or 15:04:05, local).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, f := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(f, s, now.Location()); err == nil {
			y, m, d := now.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, now.Location()), nil
		}
	}
	return time.Time{}, fmt.Errorf("want a duration (10m), a time (2026-11-30T04:00:00Z) or a clock time (04:00)")
}

// logLine is one line of a log file, parsed as far as ordering and
// filtering need.
type logLine struct {
	file      string
	component string
	at        time.Time
	raw       string
	fields    map[string]any // a JSON line's fields; nil for a console line
}

// logTimeRE finds a console line's clock time.
var logTimeRE = regexp.MustCompile(`^(\d\d:\d\d:\d\d(?:\.\d+)?) `)
var componentRE = regexp.MustCompile(`(?:^| )component=(\S+)`)

func parseLogLine(file, raw string, day time.Time) logLine {
	l := logLine{file: file, component: file, raw: raw}
	if strings.HasPrefix(raw, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) == nil {
			l.fields = m
			if c, ok := m["component"].(string); ok {
				l.component = c
			}
			if ts, ok := m["time"].(string); ok {
				l.at, _ = time.Parse(time.RFC3339Nano, ts)
			}
			return l
		}
	}
	if m := logTimeRE.FindStringSubmatch(raw); m != nil {
		if t, err := time.ParseInLocation("15:04:05.999999999", m[1], day.Location()); err == nil {
			y, mo, d := day.Date()
			l.at = time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), day.Location())
		}
	}
	if m := componentRE.FindStringSubmatch(raw); m != nil {
		l.component = m[1]
	}
	return l
}

func (l logLine) json() []byte {
	if l.fields != nil {
		return []byte(l.raw)
	}
	b, _ := json.Marshal(map[string]any{"time": l.at.Format(time.RFC3339Nano), "component": l.component, "line": l.raw})
	return b
}

// console renders a line as the console format does: time, level,
// component, message, then the other fields.
func (l logLine) console() string {
	if l.fields == nil {
		return l.raw
	}
	var b strings.Builder
	b.WriteString(l.at.Local().Format("15:04:05.000"))
	if lv, ok := l.fields["level"].(string); ok {
		b.WriteString(" " + strings.ToUpper(lv[:min(3, len(lv))]))
	}
	b.WriteString(" " + l.component)
	if msg, ok := l.fields["message"].(string); ok {
		b.WriteString(" " + msg)
	} else if msg, ok := l.fields["msg"].(string); ok { // libp2p's (slog)
		b.WriteString(" " + msg)
	}
	keys := make([]string, 0, len(l.fields))
	for k := range l.fields {
		if k != "time" && k != "level" && k != "message" && k != "msg" && k != "component" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.fields[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(&b, " %s=%s", k, s)
		} else {
			j, _ := json.Marshal(v)
			fmt.Fprintf(&b, " %s=%s", k, j)
		}
	}
	return b.String()
}

// logReader reads one log file line by line, and again after EOF once the
// file grew (for --follow).
type logReader struct {
	f    *os.File
	r    *bufio.Reader
	name string
	day  time.Time
	part string // a line not yet ended
}

func openLog(path, name string) (*logReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	day := time.Now()
	if st, err := f.Stat(); err == nil {
		day = st.ModTime()
	}
	return &logReader{f: f, r: bufio.NewReaderSize(f, 64<<10), name: name, day: day}, nil
}

// maxLogLine bounds a line read; the rest of a longer one is dropped.
const maxLogLine = 1 << 20

func (r *logReader) next() (logLine, bool) {
	for {
		chunk, err := r.r.ReadString('\n')
		if len(r.part)+len(chunk) <= maxLogLine {
			r.part += chunk
		}
		if err == io.EOF || err != nil {
			return logLine{}, false // r.part waits for the rest of its line
		}
		line := strings.TrimRight(r.part, "\r\n")
		r.part = ""
		if line == "" {
			continue
		}
		return parseLogLine(r.name, line, r.day), true
	}
}

// mergeLogs emits the lines of every reader in time order (a k-way merge;
// a line without a time keeps its place in its file).
func mergeLogs(readers []*logReader, emit func(logLine) error) error {
	h := &lineHeap{}
	for i, r := range readers {
		if l, ok := r.next(); ok {
			heap.Push(h, heapItem{l, i})
		}
	}
	for h.Len() > 0 {
		it := heap.Pop(h).(heapItem)
		if err := emit(it.l); err != nil {
			return err
		}
		if l, ok := readers[it.src].next(); ok {
			if l.at.IsZero() {
				l.at = it.l.at
			}
			heap.Push(h, heapItem{l, it.src})
		}
	}
	return nil
}

type heapItem struct {
	l   logLine
	src int
}

type lineHeap []heapItem

func (h lineHeap) Len() int { return len(h) }
func (h lineHeap) Less(i, j int) bool {
	if h[i].l.at.Equal(h[j].l.at) {
		return h[i].src < h[j].src
	}
	return h[i].l.at.Before(h[j].l.at)
}
func (h lineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *lineHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
