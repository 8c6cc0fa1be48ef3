package scenario

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRunnerPutsFilesUnderFilesDir(t *testing.T) {
	steps, err := Parse(strings.NewReader("fetch --as bob --save-dir inbox\nfile download x -o /abs/out\nexpect fetch --as bob contains \"hi\"\n"), map[string]bool{"fetch": true, "file": true})
	if err != nil {
		t.Fatal(err)
	}
	var ran [][]string
	var out strings.Builder
	r := &Runner{Out: &out, FilesDir: "/d", Exec: func(_ context.Context, args []string) Result {
		ran = append(ran, args)
		return Result{Stdout: "from alice: hello"}
	}}
	err = r.Run(context.Background(), steps)
	var f *Failure
	if !errors.As(err, &f) || f.Step.Line != 3 {
		t.Fatalf("Run = %v, want a failure at line 3", err)
	}
	if want := []string{"fetch", "--as", "bob", "--save-dir", filepath.Join("/d", "scenario-files", "inbox")}; !slices.Equal(ran[0], want) {
		t.Errorf("ran %q, want %q", ran[0], want)
	}
	if want := []string{"file", "download", "x", "-o", "/abs/out"}; !slices.Equal(ran[1], want) {
		t.Errorf("ran %q, want %q (an absolute path stays)", ran[1], want)
	}
	if steps[0].Args[4] != "inbox" {
		t.Error("the step itself was changed")
	}
}

func TestSeveralChecksOfOneRun(t *testing.T) {
	steps, err := Parse(strings.NewReader(`expect send --from carol --to bob "hi" contains "(guard)" contains "(exit)" lacks "failed"`+"\n"), map[string]bool{"send": true})
	if err != nil {
		t.Fatal(err)
	}
	st := steps[0]
	if !slices.Equal(st.Contains, []string{"(guard)", "(exit)"}) || !slices.Equal(st.Lacks, []string{"failed"}) || !slices.Equal(st.Args, []string{"send", "--from", "carol", "--to", "bob", "hi"}) {
		t.Fatalf("parsed %+v", st)
	}
	for _, c := range []struct {
		out  string
		fail string
	}{
		{"path: you -> node-1 (guard) -> node-2 (middle) -> node-3 (exit)", ""},
		{"path: you -> node-1 (guard) -> node-2 (middle)", `lacks "(exit)"`},
		{"(guard) (exit) but failed", `contains "failed"`},
	} {
		r := &Runner{Exec: func(context.Context, []string) Result { return Result{Stdout: c.out} }}
		err := r.Run(context.Background(), steps)
		if (err == nil) != (c.fail == "") || err != nil && !strings.Contains(err.Error(), c.fail) {
			t.Errorf("output %q: Run = %v, want a failure with %q", c.out, err, c.fail)
		}
	}
	if _, err := Parse(strings.NewReader(`expect fetch --as bob contains "a" lakcs "b"`+"\n"), map[string]bool{"fetch": true}); err == nil || !strings.Contains(err.Error(), `did you mean "lacks"`) {
		t.Errorf("a misspelt second check: %v", err)
	}
}

// TestPace: a paced run waits Pace after each step (on the injected clock).
func TestPace(t *testing.T) {
	steps, _ := Parse(strings.NewReader("say one\nsend a b \"x\"\nsay two\n"), map[string]bool{"send": true})
	var waits []time.Duration
	r := &Runner{Pace: 2 * time.Second, Exec: func(context.Context, []string) Result { return Result{} },
		After: func(d time.Duration) <-chan time.Time {
			waits = append(waits, d)
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		}}
	if err := r.Run(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(waits, []time.Duration{2 * time.Second, 2 * time.Second}) {
		t.Fatalf("waited %v, want 2s between each of the 3 steps", waits)
	}
	// A paced run still ends when its context does.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.After = func(time.Duration) <-chan time.Time { return nil }
	if err := r.Run(ctx, steps); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	for _, d := range []time.Duration{-time.Second, 2 * time.Minute} {
		if CheckPacing(d, false, true, false) == nil {
			t.Errorf("pace %v accepted", d)
		}
	}
	if CheckPacing(time.Second, true, false, false) == nil || CheckPacing(0, true, false, true) != nil || CheckPacing(0, true, true, false) != nil {
		t.Error("--step: refused only where no terminal or test feeds it")
	}
}

// TestStep: with Next, each narration line but the first waits for a line
// of input; the commands between run without waiting; at the input's end
// the run goes on.
func TestStep(t *testing.T) {
	defer goleak.VerifyNone(t)
	steps, _ := Parse(strings.NewReader("say one\nsend a b \"x\"\nsay two\nsend a b \"y\"\nsay three\nsay four\n"), map[string]bool{"send": true})
	in, feed := io.Pipe()
	prompts := make(chan string, 10)
	var out syncBuffer
	var ran []string
	r := &Runner{Out: &out, Step: true, Next: in, Prompt: writerFunc(func(p []byte) { prompts <- string(p) }),
		Exec: func(_ context.Context, args []string) Result { ran = append(ran, args[len(args)-1]); return Result{} }}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), steps) }()
	if p := <-prompts; !strings.Contains(p, "Enter") {
		t.Fatalf("prompt %q", p)
	}
	// Waiting before "two": "one" and its command ran, "two" did not.
	if s := out.String(); !strings.Contains(s, "» one") || strings.Contains(s, "two") || !slices.Equal(ran, []string{"x"}) {
		t.Fatalf("before Enter: %q, ran %q", s, ran)
	}
	feed.Write([]byte("\n"))
	<-prompts // before "three"
	if s := out.String(); !strings.Contains(s, "» two") || strings.Contains(s, "three") {
		t.Fatalf("after one Enter: %q", s)
	}
	feed.Close() // Ctrl-D: no more waiting
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "» four") {
		t.Fatalf("at the end: %q", s)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
