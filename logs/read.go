package logs

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// ErrNoLogs is a directory with no logs to read.
var ErrNoLogs = errors.New("no logs")

// ErrUnknownLog is a log asked for that is not there.
var ErrUnknownLog = errors.New("no log")

// Components lists the logs under dir (ledger, nodes, edge, ...), sorted.
func Components(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w under %s", ErrNoLogs, dir)
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".log"); ok && !e.IsDir() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

var nodeNameRE = regexp.MustCompile(`^node-[1-9][0-9]{0,4}$`)

// Selection is which logs to read and which of their lines to keep.
type Selection struct {
	// Files are the logs to read (ledger, nodes, ...).
	Files []string
	// Nodes, if any, keep only these nodes' lines of nodes.log.
	Nodes map[string]bool
	// Since, if set, drops lines written before it.
	Since time.Time
}

// Select reads what a person asks for among components: a log's name, or a
// node's (node-3: its lines of nodes.log). None asks for every log.
func Select(components, asked []string) (Selection, error) {
	var sel Selection
	files := map[string]bool{}
	nodes := map[string]bool{}
	for _, a := range asked {
		switch {
		case slices.Contains(components, a):
			files[a] = true
		case nodeNameRE.MatchString(a) && slices.Contains(components, "nodes"):
			nodes[a] = true
		default:
			return sel, fmt.Errorf("%w %q: the logs are %s, or a node's name (node-3)", ErrUnknownLog, a, strings.Join(components, ", "))
		}
	}
	if len(nodes) > 0 && !files["nodes"] {
		files["nodes"] = true
		sel.Nodes = nodes
	} // else "nodes" was asked for whole
	if len(files) == 0 {
		sel.Files = slices.Clone(components)
	} else {
		for _, c := range components {
			if files[c] {
				sel.Files = append(sel.Files, c)
			}
		}
	}
	return sel, nil
}

// Keep reports whether a line passes the selection's filters.
func (s Selection) Keep(l Line) bool {
	if !s.Since.IsZero() && !l.At.IsZero() && l.At.Before(s.Since) {
		return false
	}
	return len(s.Nodes) == 0 || l.File != "nodes" || s.Nodes[l.Component]
}

// ParseSince reads a --since: a duration back from now, an RFC 3339 time,
// or a clock time today (15:04 or 15:04:05, local).
func ParseSince(s string, now time.Time) (time.Time, error) {
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

// Line is one line of a log file, parsed as far as ordering and filtering
// need.
type Line struct {
	File      string    // the log it is in (nodes)
	Component string    // what wrote it (node-3)
	At        time.Time // zero when the line says no time
	Raw       string
	fields    map[string]any // a JSON line's fields; nil for a console line
}

// logTimeRE finds a console line's clock time.
var logTimeRE = regexp.MustCompile(`^(\d\d:\d\d:\d\d(?:\.\d+)?) `)
var componentRE = regexp.MustCompile(`(?:^| )component=(\S+)`)

// ParseLine reads a line of file; day is the date its console time is on.
func ParseLine(file, raw string, day time.Time) Line {
	l := Line{File: file, Component: file, Raw: raw}
	if strings.HasPrefix(raw, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) == nil {
			l.fields = m
			if c, ok := m["component"].(string); ok {
				l.Component = c
			}
			if ts, ok := m["time"].(string); ok {
				l.At, _ = time.Parse(time.RFC3339Nano, ts)
			}
			return l
		}
	}
	if m := logTimeRE.FindStringSubmatch(raw); m != nil {
		if t, err := time.ParseInLocation("15:04:05.999999999", m[1], day.Location()); err == nil {
			y, mo, d := day.Date()
			l.At = time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), day.Location())
		}
	}
	if m := componentRE.FindStringSubmatch(raw); m != nil {
		l.Component = m[1]
	}
	return l
}

// JSON renders the line as one JSON object: a JSON line as it is, a
// console line as its time, component and text.
func (l Line) JSON() []byte {
	if l.fields != nil {
		return []byte(l.Raw)
	}
	b, _ := json.Marshal(map[string]any{"time": l.At.Format(time.RFC3339Nano), "component": l.Component, "line": l.Raw})
	return b
}

// Console renders the line as the console format does: time, level,
// component, message, then the other fields.
func (l Line) Console() string {
	if l.fields == nil {
		return l.Raw
	}
	var b strings.Builder
	b.WriteString(l.At.Local().Format(consoleTime))
	if lv, ok := l.fields["level"].(string); ok {
		b.WriteString(" " + strings.ToUpper(lv[:min(3, len(lv))]))
	}
	b.WriteString(" " + l.Component)
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

// Reader reads one log file line by line, and again after its end once the
// file grew (to follow it).
type Reader struct {
	f    *os.File
	r    *bufio.Reader
	name string
	day  time.Time
	part string // a line not yet ended
}

// OpenReader opens the log NAME.log of dir.
func OpenReader(dir, name string) (*Reader, error) {
	f, err := os.Open(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	day := time.Now()
	if st, err := f.Stat(); err == nil {
		day = st.ModTime()
	}
	return &Reader{f: f, r: bufio.NewReaderSize(f, 64<<10), name: name, day: day}, nil
}

// OpenAll opens the selection's logs of dir; on error none stays open.
func OpenAll(dir string, sel Selection) ([]*Reader, error) {
	var out []*Reader
	for _, name := range sel.Files {
		r, err := OpenReader(dir, name)
		if err != nil {
			CloseAll(out)
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// CloseAll closes readers.
func CloseAll(readers []*Reader) {
	for _, r := range readers {
		r.Close()
	}
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// maxLine bounds a line read; the rest of a longer one is dropped.
const maxLine = 1 << 20

// Next returns the next whole line, false at the end of what is written.
func (r *Reader) Next() (Line, bool) {
	for {
		chunk, err := r.r.ReadString('\n')
		if len(r.part)+len(chunk) <= maxLine {
			r.part += chunk
		}
		if err != nil {
			return Line{}, false // r.part waits for the rest of its line
		}
		line := strings.TrimRight(r.part, "\r\n")
		r.part = ""
		if line == "" {
			continue
		}
		return ParseLine(r.name, line, r.day), true
	}
}

// Merge emits the lines of every reader in time order (a k-way merge; a
// line without a time keeps its place in its file), until each reader's
// end of what is written.
func Merge(readers []*Reader, emit func(Line) error) error {
	h := &lineHeap{}
	for i, r := range readers {
		if l, ok := r.Next(); ok {
			heap.Push(h, heapItem{l, i})
		}
	}
	for h.Len() > 0 {
		it := heap.Pop(h).(heapItem)
		if err := emit(it.l); err != nil {
			return err
		}
		if l, ok := readers[it.src].Next(); ok {
			if l.At.IsZero() {
				l.At = it.l.At
			}
			heap.Push(h, heapItem{l, it.src})
		}
	}
	return nil
}

// Follow emits, every interval until ctx ends, the lines written since
// (each file's in its order, the batch ordered by time), then calls
// flushed.
func Follow(ctx context.Context, readers []*Reader, every time.Duration, emit func(Line) error, flushed func() error) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var fresh []Line
		for _, r := range readers {
			for {
				l, ok := r.Next()
				if !ok {
					break
				}
				fresh = append(fresh, l)
			}
		}
		sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].At.Before(fresh[j].At) })
		for _, l := range fresh {
			if err := emit(l); err != nil {
				return err
			}
		}
		if err := flushed(); err != nil {
			return err
		}
	}
}

type heapItem struct {
	l   Line
	src int
}

type lineHeap []heapItem

func (h lineHeap) Len() int { return len(h) }
func (h lineHeap) Less(i, j int) bool {
	if h[i].l.At.Equal(h[j].l.At) {
		return h[i].src < h[j].src
	}
	return h[i].l.At.Before(h[j].l.At)
}
func (h lineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *lineHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Query is what Show shows of a directory's logs.
type Query struct {
	Asked  []string  // logs or nodes' names (Select); none: every log
	Since  time.Time // zero: from the start
	JSON   bool      // a JSON object a line (Line.JSON), else console lines
	Follow bool      // go on with what is written, every FollowEvery, until ctx ends
}

// FollowEvery is how often a followed log is read again.
const FollowEvery = 200 * time.Millisecond

// Show writes the logs of dir that q asks for to w, in time order (merged),
// then, following, what is written after until ctx ends. No logs there is
// ErrNoLogs; an unknown log asked for ErrUnknownLog.
func Show(ctx context.Context, w io.Writer, dir string, q Query) error {
	components, err := Components(dir)
	if err != nil {
		return err
	}
	sel, err := Select(components, q.Asked)
	if err != nil {
		return err
	}
	sel.Since = q.Since
	readers, err := OpenAll(dir, sel)
	if err != nil {
		return err
	}
	defer CloseAll(readers)
	out := bufio.NewWriter(w)
	defer out.Flush()
	emit := func(l Line) error {
		if !sel.Keep(l) {
			return nil
		}
		if q.JSON {
			out.Write(l.JSON())
		} else {
			out.WriteString(l.Console())
		}
		return out.WriteByte('\n')
	}
	if err := Merge(readers, emit); err != nil || !q.Follow {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	return Follow(ctx, readers, FollowEvery, emit, out.Flush)
}
