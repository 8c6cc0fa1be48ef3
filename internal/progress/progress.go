// Package progress shows how long work is going on a terminal: one line on
// stderr, redrawn in place (nodes started of N, swarms ready, the bench's
// load level running), wiped when the work is done so that what follows
// takes the line. Written to anything else (a file, a pipe, a test's
// buffer), or asked to be quiet (--json), it writes nothing: a script's
// output never has a progress line in it.
//
//	line := progress.New(os.Stderr, jsonOutput)
//	defer line.Clear()
//	for i := range n {
//		line.Show(progress.Bar("starting service nodes", i+1, n))
//	}
package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// Every is how often the line is redrawn at most.
const Every = 100 * time.Millisecond

// Line is the progress line on one writer. Its methods are safe to call
// from many goroutines, and do nothing on a Line that is off (or nil).
type Line struct {
	w  io.Writer
	on bool
	// Now is the clock the redraws are spaced by (tests set it).
	Now func() time.Time

	mu      sync.Mutex
	last    time.Time // the last redraw
	text    string    // what the line shows
	stage   string    // the stage of the text drawn last
	pending bool      // text is not drawn yet
	shown   bool
}

// New returns the progress line of w: on when w is a terminal (or
// asTerminal: a test's fake one) and the command is not quiet (--json),
// else off.
func New(w io.Writer, quiet, asTerminal bool) *Line {
	return &Line{w: w, on: !quiet && (asTerminal || IsTerminal(w)), Now: time.Now}
}

// IsTerminal reports whether w is a terminal (a Cygwin or MSYS one too).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// On reports whether the line shows anything.
func (l *Line) On() bool { return l != nil && l.on }

// Show makes text (one line: a newline ends it) the line's. It is drawn
// now if it starts a new stage (it differs from the text drawn last in
// more than its counts and bars), or if the last redraw was Every ago or
// more; else the next Show after that, or Flush, draws the newest text.
func (l *Line) Show(text string) {
	if !l.On() {
		return
	}
	text, _, _ = strings.Cut(text, "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	st := stage(text)
	if st != l.stage && l.pending {
		l.draw() // the stage before ends as it ended (its last count), however briefly
	}
	l.text, l.pending = text, true
	if now.Sub(l.last) >= Every || st != l.stage {
		l.last = now
		l.draw()
	}
}

// stage is text without its counts and bars (nor the spaces that pad
// them).
func stage(text string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '#' || r == '.' || r == ' ' {
			return -1
		}
		return r
	}, text)
}

// Flush draws the last text asked for, however recent the last redraw.
func (l *Line) Flush() {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = l.Now()
	l.draw()
}

func (l *Line) draw() {
	// \r to the line's start, the text, and \033[K to wipe what a longer
	// text before left
	fmt.Fprintf(l.w, "\r%s\033[K", l.text)
	l.shown, l.pending, l.stage = true, false, stage(l.text)
}

// Clear wipes the line, if it showed anything: what is written next takes
// its place.
func (l *Line) Clear() {
	if !l.On() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		fmt.Fprint(l.w, "\r\033[K")
		l.shown = false
	}
	l.text, l.pending, l.stage = "", false, ""
}

// Bar is a count as a bar: "label [##########..........]  1000/2000".
func Bar(label string, done, total int) string {
	const width = 30
	if total <= 0 {
		return label
	}
	done = min(max(done, 0), total)
	full := done * width / total
	return fmt.Sprintf("%s [%s%s] %*d/%d", label, strings.Repeat("#", full), strings.Repeat(".", width-full), len(strconv.Itoa(total)), done, total)
}
