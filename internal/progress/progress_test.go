package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestOffShowsNothing: a writer that is no terminal (a buffer, a file) and
// a quiet line (--json) get nothing, however much is shown.
func TestOffShowsNothing(t *testing.T) {
	var b bytes.Buffer
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range []*Line{New(&b, false, false), New(f, false, false), New(&b, true, false), New(&b, true, true), nil} {
		if l.On() {
			t.Errorf("%+v is on", l)
		}
		l.Show("starting service nodes")
		l.Flush()
		l.Clear()
	}
	if fi, _ := f.Stat(); b.Len() != 0 || fi.Size() != 0 {
		t.Errorf("wrote %q and %d bytes to a file", b.String(), fi.Size())
	}
	if IsTerminal(&b) || IsTerminal(f) {
		t.Error("a buffer or a file is a terminal")
	}
}

// TestTerminalRedrawsInPlace: on a (fake) terminal the line is redrawn in
// place at most every 100 ms, unless a new stage begins; the newest text
// is drawn by Flush, and Clear wipes it.
func TestTerminalRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, false, true)
	clock := time.Unix(0, 0)
	l.Now = func() time.Time { return clock }
	l.Show(Bar("starting service nodes", 1, 2000))
	for i := 2; i <= 2000; i++ {
		l.Show(Bar("starting service nodes", i, 2000)) // within 100 ms: not drawn
	}
	if got := strings.Count(b.String(), "\r"); got != 1 {
		t.Errorf("%d redraws within 100 ms, want 1: %q", got, b.String())
	}
	l.Show("nodes ready 10/2000, swarms ready 0/333") // a new stage: drawn at once
	l.Show("nodes ready 2000/2000, swarms ready 333/333")
	l.Flush()
	l.Clear()
	l.Clear() // nothing more: the line is wiped already
	want := "\rstarting service nodes [" + strings.Repeat(".", 30) + "]    1/2000\033[K" +
		"\rstarting service nodes [" + strings.Repeat("#", 30) + "] 2000/2000\033[K" + // the stage's end, before the next
		"\rnodes ready 10/2000, swarms ready 0/333\033[K" +
		"\rnodes ready 2000/2000, swarms ready 333/333\033[K" +
		"\r\033[K"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
	b.Reset()
	clock = clock.Add(Every)
	l.Show("one\ntwo")
	if b.String() != "\rone\033[K" {
		t.Errorf("a text with a newline: %q", b.String())
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		done, total int
		want        string
	}{
		{0, 4, "x [" + strings.Repeat(".", 30) + "] 0/4"},
		{2, 4, "x [" + strings.Repeat("#", 15) + strings.Repeat(".", 15) + "] 2/4"},
		{9, 4, "x [" + strings.Repeat("#", 30) + "] 4/4"},
		{1, 0, "x"},
	} {
		if got := Bar("x", c.done, c.total); got != c.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}
