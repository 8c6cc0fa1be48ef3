package logs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestFilesWriteAndSavedFormat(t *testing.T) {
	for _, format := range []string{Console, JSON} {
		t.Run(format, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "logs")
			if got := SavedFormat(dir, "none"); got != "none" {
				t.Fatalf("SavedFormat before = %q", got)
			}
			f, err := Open(dir, Options{Format: format, Level: zerolog.InfoLevel})
			if err != nil {
				t.Fatal(err)
			}
			ledger, n1, n12 := f.Logger("ledger"), f.Logger("node-1"), f.Logger("node-12")
			ledger.Info().Msg("block")
			n1.Info().Msg("first")
			n12.Debug().Msg("below the level")
			n12.Warn().Msg("second")
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got := SavedFormat(dir, "none"); got != format {
				t.Fatalf("SavedFormat = %q, want %q", got, format)
			}
			comps, err := Components(dir)
			if err != nil || !slices.Equal(comps, []string{"ledger", "nodes"}) {
				t.Fatalf("Components = %v, %v", comps, err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "nodes.log"))
			if n := strings.Count(string(b), "\n"); n != 2 || strings.Contains(string(b), "below the level") {
				t.Fatalf("nodes.log holds %d lines:\n%s", n, b)
			}
			sel, _ := Select(comps, []string{"node-12"})
			readers, err := OpenAll(dir, sel)
			if err != nil {
				t.Fatal(err)
			}
			defer CloseAll(readers)
			var got []string
			Merge(readers, func(l Line) error {
				if sel.Keep(l) {
					got = append(got, l.Component+" "+l.Console())
				}
				return nil
			})
			if len(got) != 1 || !strings.HasPrefix(got[0], "node-12 ") || !strings.Contains(got[0], "second") {
				t.Fatalf("node-12's lines: %q", got)
			}
		})
	}
	if _, err := Open(t.TempDir(), Options{Format: "xml"}); err == nil {
		t.Fatal("format xml accepted")
	}
}

// writeLog writes lines to dir/name.log.
func writeLog(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".log"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMergeOrdersByTime(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, "ledger",
		`{"time":"2026-01-01T10:00:01.000Z","level":"info","component":"ledger","message":"b"}`,
		`{"time":"2026-01-01T10:00:04.000Z","level":"info","component":"ledger","message":"e"}`)
	writeLog(t, dir, "nodes",
		`{"time":"2026-01-01T10:00:00.000Z","level":"info","component":"node-1","message":"a"}`,
		`{"time":"2026-01-01T10:00:02.000Z","level":"warn","component":"node-2","message":"c","peer":"x","n":3}`,
		`not json: a panic's trace`,
		`{"time":"2026-01-01T10:00:05.000Z","level":"info","component":"node-1","message":"f"}`)
	writeLog(t, dir, "edge", `{"time":"2026-01-01T10:00:03.000Z","level":"info","component":"edge","message":"d"}`)
	comps, _ := Components(dir)
	sel, err := Select(comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	readers, err := OpenAll(dir, sel)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(readers)
	var order []string
	var c Line
	Merge(readers, func(l Line) error {
		msg := l.Raw
		if l.fields != nil {
			msg = l.fields["message"].(string)
		}
		if msg == "c" {
			c = l
		}
		order = append(order, msg)
		return nil
	})
	want := []string{"a", "b", "c", "not json: a panic's trace", "d", "e", "f"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if got := c.Console(); !strings.HasSuffix(got, " WAR node-2 c n=3 peer=x") {
		t.Errorf("Console = %q", got)
	}
	console := ParseLine("ledger", "10:00:01.500 INF block component=ledger height=3", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if console.Component != "ledger" || console.At.Hour() != 10 || console.At.Nanosecond() != 500e6 {
		t.Errorf("console line parsed as %+v", console)
	}
	if j := string(console.JSON()); !strings.Contains(j, `"component":"ledger"`) || !strings.Contains(j, `"line":"10:00:01.500 INF`) {
		t.Errorf("JSON of a console line: %s", j)
	}
}

func TestSelect(t *testing.T) {
	comps := []string{"devnet", "edge", "ledger", "nodes"}
	for _, tc := range []struct {
		asked []string
		files []string
		nodes int
		err   bool
	}{
		{nil, comps, 0, false},
		{[]string{"ledger"}, []string{"ledger"}, 0, false},
		{[]string{"node-3", "edge"}, []string{"edge", "nodes"}, 1, false},
		{[]string{"node-3", "nodes"}, []string{"nodes"}, 0, false}, // nodes asked for whole
		{[]string{"node-0"}, nil, 0, true},
		{[]string{"../etc/passwd"}, nil, 0, true},
	} {
		sel, err := Select(comps, tc.asked)
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrUnknownLog)) {
			t.Errorf("Select(%q): %v", tc.asked, err)
			continue
		}
		if err == nil && (!slices.Equal(sel.Files, tc.files) || len(sel.Nodes) != tc.nodes) {
			t.Errorf("Select(%q) = %+v", tc.asked, sel)
		}
	}
	sel := Selection{Nodes: map[string]bool{"node-3": true}, Since: time.Unix(100, 0)}
	for _, tc := range []struct {
		l    Line
		keep bool
	}{
		{Line{File: "nodes", Component: "node-3", At: time.Unix(101, 0)}, true},
		{Line{File: "nodes", Component: "node-4", At: time.Unix(101, 0)}, false},
		{Line{File: "edge", Component: "edge", At: time.Unix(101, 0)}, true},
		{Line{File: "nodes", Component: "node-3", At: time.Unix(99, 0)}, false},
		{Line{File: "nodes", Component: "node-3"}, true}, // no time: kept
	} {
		if got := sel.Keep(tc.l); got != tc.keep {
			t.Errorf("Keep(%+v) = %v", tc.l, got)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"2026-11-30T04:00:00Z": time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC),
		"04:00":                time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC),
		"04:00:30":             time.Date(2026, 11, 30, 4, 0, 30, 0, time.UTC),
	} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-5m", "yesterday", "25:00"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

func TestFollowReadsWhatIsWrittenLater(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, "ledger", `{"time":"2026-01-01T10:00:00.000Z","component":"ledger","message":"old"}`)
	r, err := OpenReader(dir, "ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	Merge([]*Reader{r}, func(Line) error { return nil })
	f, err := os.OpenFile(filepath.Join(dir, "ledger.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Half a line waits for its end.
	f.WriteString(`{"time":"2026-01-01T10:00:01.000Z","component":"ledger",`)
	if l, ok := r.Next(); ok {
		t.Fatalf("half a line read: %+v", l)
	}
	f.WriteString(`"message":"new"}` + "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	err = Follow(ctx, []*Reader{r}, time.Millisecond, func(l Line) error {
		got = append(got, l.fields["message"].(string))
		cancel()
		return nil
	}, func() error { return nil })
	if err != nil || !slices.Equal(got, []string{"new"}) {
		t.Fatalf("followed %q, %v", got, err)
	}
}

func TestShow(t *testing.T) {
	dir := t.TempDir()
	if err := Show(context.Background(), io.Discard, filepath.Join(dir, "none"), Query{}); !errors.Is(err, ErrNoLogs) {
		t.Fatalf("no logs: %v", err)
	}
	writeLog(t, dir, "ledger", `{"time":"2026-01-01T10:00:01.000Z","level":"info","component":"ledger","message":"b"}`)
	writeLog(t, dir, "nodes", `{"time":"2026-01-01T10:00:00.000Z","level":"info","component":"node-1","message":"a"}`,
		`{"time":"2026-01-01T10:00:02.000Z","level":"info","component":"node-2","message":"c"}`)
	var b strings.Builder
	if err := Show(context.Background(), &b, dir, Query{Asked: []string{"node-2", "ledger"}, JSON: true}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "\n"); got != 2 || !strings.Contains(b.String(), `"message":"b"`) || strings.Contains(b.String(), `"message":"a"`) {
		t.Fatalf("shown:\n%s", b.String())
	}
	if err := Show(context.Background(), io.Discard, dir, Query{Asked: []string{"mail"}}); !errors.Is(err, ErrUnknownLog) {
		t.Fatalf("unknown log: %v", err)
	}
}
