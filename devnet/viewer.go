package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// viewer tells when the dashboard was first opened in a browser: its page,
// once loaded, asks for the state (a bare GET of the page does not count:
// a script may fetch it without showing anyone anything).
type viewer struct {
	once sync.Once
	mu   sync.Mutex
	ch   chan struct{} // closed at the first view
}

func (v *viewer) done() chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ch == nil {
		v.ch = make(chan struct{})
	}
	return v.ch
}

func (v *viewer) seen() { v.once.Do(func() { close(v.done()) }) }

// ErrStoppedUnviewed is WaitViewer's answer when the devnet is asked to
// stop ('devnet down') before anyone opened the dashboard.
var ErrStoppedUnviewed = errors.New("the devnet was stopped before anyone opened the dashboard")

// WaitViewer waits until a browser has opened the dashboard (its page
// fetched the state), ctx ends, or the devnet is asked to stop; it tells
// tell (if not nil) what it waits for, unless the page is open already. A
// presenter starts a scenario once the room's projector shows the page
// ('devnet up --scenario FILE --wait-viewer').
func (d *Devnet) WaitViewer(ctx context.Context, tell io.Writer) error {
	select {
	case <-d.viewer.done():
		return nil
	default:
	}
	if tell != nil {
		fmt.Fprintf(tell, "waiting for a browser to open the dashboard (Ctrl-C to give up): %s\n", d.dash.url(d.control.url()))
	}
	select {
	case <-d.viewer.done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.down:
		return ErrStoppedUnviewed
	}
}
