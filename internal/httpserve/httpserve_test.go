package httpserve

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCloseWaitsForHandlers: Close returns only after a running handler
// returned, and that handler saw its context canceled.
func TestCloseWaitsForHandlers(t *testing.T) {
	entered := make(chan struct{})
	var finished atomic.Bool
	s := New("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		finished.Store(true)
	}), zerolog.Nop())
	if s.URL() != "" {
		t.Fatal("a URL before Start")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-s.Ready()
	go func() {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.URL())
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-entered
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Close returned while a handler ran")
	}
	if err := s.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
	if err := s.Start(context.Background()); err != ErrClosed {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestOnErr: a server that stops serving on its own (its listener failed)
// delivers the failure on Err and tells OnErr's function of it, before
// Close returns.
func TestOnErr(t *testing.T) {
	s := New("127.0.0.1:0", http.NotFoundHandler(), zerolog.Nop())
	var told atomic.Pointer[error]
	s.OnErr(func(err error) { told.Store(&err) })
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.ln.Close() // the listener fails under the server
	s.mu.Unlock()
	err := <-s.Err()
	s.Close()
	if got := told.Load(); got == nil || *got != err {
		t.Fatalf("OnErr was told %v, Err delivered %v", got, err)
	}
}
