// Package scenario runs scripted stories against a devnet, for demos,
// workshops and end-to-end tests. A scenario reads like the command line:
//
//	# comments and blank lines are skipped
//	say Alice writes to Bob, who is offline.          narration for the audience
//	send alice bob "Are you there?"                   send --from alice --to bob ...
//	node kill node-3                                  any sessionctl command
//	expect fetch --as bob contains "Are you there?"   run it; its output must contain the text
//	expect group fetch team --as bob lacks "secret"   ... must not contain it
//	expect send carol bob "hi" contains "(guard)" contains "(exit)"   several checks of one run
//	expect fail group fetch team --as carol           ... must fail
//	wait blocks 5                                     until the ledger made 5 more blocks
//	wait until node ls contains "decommissioned" within 60s
//
// Every line is checked before anything runs: an unknown verb or a malformed
// line is reported with its line number. A run stops at the first failed
// expectation and says which line and what was seen instead: an example's
// narration is checked by the expect lines that follow it.
//
// For a room, a run can go at a human pace: Runner.Pace pauses after each
// step, and Runner.Next (a terminal's stdin) waits for Enter before each
// narration line but the first.
//
// The package does not know the command line: Runner.Exec runs one.
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Step kinds.
const (
	KindSay        = "say"
	KindRun        = "run"
	KindExpect     = "expect"
	KindExpectFail = "expect-fail"
	KindWaitBlocks = "wait-blocks"
	KindWaitUntil  = "wait-until"
)

// Step is one line of a scenario.
type Step struct {
	Line     int           `json:"line"`
	Kind     string        `json:"kind"`
	Text     string        `json:"text,omitempty"`     // say
	Args     []string      `json:"args,omitempty"`     // the command, without "sessionctl"
	Contains []string      `json:"contains,omitempty"` // each must be in the output
	Lacks    []string      `json:"lacks,omitempty"`    // none may be
	Within   time.Duration `json:"within,omitempty"`
	Blocks   int           `json:"blocks,omitempty"`
}

// DefaultWithin bounds a "wait until" without "within".
const DefaultWithin = 60 * time.Second

// Parse reads a scenario. verbs are the command line's commands (send,
// node, group, ...): a line must start with one of them or a scenario verb.
// All the problems are reported, each with its line number.
func Parse(r io.Reader, verbs map[string]bool) ([]Step, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var steps []Step
	var errs []error
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		st, err := parseLine(i+1, line, verbs)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		steps = append(steps, st)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(steps) == 0 {
		return nil, errors.New("the scenario has no steps")
	}
	return steps, nil
}

func parseLine(n int, line string, verbs map[string]bool) (Step, error) {
	if rest, ok := strings.CutPrefix(line, "say"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		return Step{Line: n, Kind: KindSay, Text: strings.TrimSpace(rest)}, nil
	}
	toks, err := tokenize(line)
	if err != nil {
		return Step{}, err
	}
	st := Step{Line: n}
	switch toks[0] {
	case "send":
		if len(toks) == 4 && !strings.HasPrefix(toks[1], "-") {
			st.Kind, st.Args = KindRun, []string{"send", "--from", toks[1], "--to", toks[2], toks[3]}
			return st, nil
		}
		st.Kind, st.Args = KindRun, toks
	case "wait":
		switch {
		case len(toks) == 3 && toks[1] == "blocks":
			b, err := strconv.Atoi(toks[2])
			if err != nil || b < 1 || b > 10_000 {
				return st, fmt.Errorf("wait blocks %q: want a number from 1 to 10000", toks[2])
			}
			st.Kind, st.Blocks = KindWaitBlocks, b
			return st, nil
		case len(toks) > 2 && toks[1] == "until":
			st.Kind = KindWaitUntil
			st.Within = DefaultWithin
			toks = toks[2:]
			if len(toks) >= 2 && toks[len(toks)-2] == "within" {
				d, err := time.ParseDuration(toks[len(toks)-1])
				if err != nil || d <= 0 || d > time.Hour {
					return st, fmt.Errorf("within %q: want a duration such as 30s, at most 1h", toks[len(toks)-1])
				}
				st.Within, toks = d, toks[:len(toks)-2]
			}
			if err := st.condition(toks, verbs); err != nil {
				return st, err
			}
			if len(st.Contains) == 0 && len(st.Lacks) == 0 {
				return st, errors.New(`wait until needs "contains TEXT" or "lacks TEXT"`)
			}
			return st, nil
		}
		return st, errors.New(`want "wait blocks N" or "wait until COMMAND contains|lacks TEXT [within DURATION]"`)
	case "expect":
		if len(toks) < 2 {
			return st, errors.New("expect what?")
		}
		if toks[1] == "fail" {
			st.Kind, st.Args = KindExpectFail, toks[2:]
			if len(st.Args) == 0 || !verbs[st.Args[0]] {
				return st, fmt.Errorf("expect fail needs a command")
			}
			return st, nil
		}
		st.Kind = KindExpect
		if err := st.condition(toks[1:], verbs); err != nil {
			return st, err
		}
		return st, nil
	default:
		st.Kind, st.Args = KindRun, toks
	}
	if !verbs[st.Args[0]] {
		return st, fmt.Errorf("unknown verb %q", st.Args[0])
	}
	return st, nil
}

// condition reads COMMAND... [contains|lacks TEXT]...: the checks are
// read from the end, in the order written.
func (st *Step) condition(toks []string, verbs map[string]bool) error {
	for len(toks) >= 3 {
		kw, text := toks[len(toks)-2], toks[len(toks)-1]
		if kw == "contains" {
			st.Contains = append([]string{text}, st.Contains...)
		} else if kw == "lacks" {
			st.Lacks = append([]string{text}, st.Lacks...)
		} else {
			// A misspelt keyword would otherwise pass as the command's
			// own argument and fail only when the line runs.
			for _, want := range []string{"contains", "lacks"} {
				if kw != want && editDistance(kw, want) <= 2 {
					return fmt.Errorf("%q: did you mean %q?", kw, want)
				}
			}
			break
		}
		toks = toks[:len(toks)-2]
	}
	if len(toks) == 0 || !verbs[toks[0]] {
		if len(toks) == 0 {
			return errors.New("a condition needs a command")
		}
		return fmt.Errorf("unknown verb %q", toks[0])
	}
	st.Args = toks
	return nil
}

// editDistance is the Levenshtein distance of two short words.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// tokenize splits a line like a shell: spaces separate, quotes group
// (double quotes allow \" and \\), and an unclosed quote is an error.
func tokenize(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inTok := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"' || c == '\'':
			inTok = true
			end := false
			for i++; i < len(line); i++ {
				if line[i] == c {
					end = true
					break
				}
				if c == '"' && line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				cur.WriteByte(line[i])
			}
			if !end {
				return nil, fmt.Errorf("unclosed %c quote", c)
			}
		case c == ' ' || c == '\t':
			if inTok {
				out = append(out, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			inTok = true
			cur.WriteByte(c)
		}
	}
	if inTok {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("an empty step")
	}
	return out, nil
}

// Result is what running one command gave.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Runner runs scenarios, one at a time.
type Runner struct {
	// Exec runs one command line (without the program name).
	Exec func(ctx context.Context, args []string) Result
	// Out receives the narration and each step's output; nil discards them.
	Out io.Writer
	// JSON makes Out receive one JSON object per step instead of text.
	JSON bool
	// FilesDir, if set, is where the files a step's command writes
	// (--save-dir, -o, --output) go when given as relative paths, under
	// FilesDir/scenario-files: running a scenario from a source tree
	// writes nothing into it.
	FilesDir string
	// Pace is a pause after each step, so that a room can read it; 0: none.
	Pace time.Duration
	// Step makes the run read a line (Enter) from Next before each
	// narration line but the first: a presenter goes on when the room is
	// ready. At Next's end (Ctrl-D) the run goes on without waiting.
	Step bool
	Next io.Reader
	// Prompt receives the line that says Next is awaited (stderr: stdout
	// is the story); nil: none.
	Prompt io.Writer
	// After is the clock of Pace (tests pass their own); nil: time.After.
	After func(time.Duration) <-chan time.Time

	lines    chan error    // Next's lines, read by one goroutine
	stop     chan struct{} // closed when Run returns: the reader sends no more
	narrated bool          // a narration line was shown
}

// MaxPace bounds Runner.Pace.
const MaxPace = time.Minute

// CheckPacing says what is wrong with pacing a run: a pace out of range,
// or step (Runner.Next) on an input that is not a terminal, where nobody
// can press Enter, unless anyInput (a test feeds it).
func CheckPacing(pace time.Duration, step, terminal, anyInput bool) error {
	if pace < 0 || pace > MaxPace {
		return fmt.Errorf("--pace %v: want a duration from 0 to %v, such as 2s", pace, MaxPace)
	}
	if step && !terminal && !anyInput {
		return errors.New("--step waits for Enter on a terminal, and stdin is not one; --pace 2s paces a run nobody drives")
	}
	return nil
}

// pause waits before step st as the runner is paced: for Enter before a
// narration line (Next), and Pace after the step before.
func (r *Runner) pause(ctx context.Context, st Step, first bool) error {
	if r.Pace > 0 && !first {
		after := r.After
		if after == nil {
			after = time.After
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-after(r.Pace):
		}
	}
	if !r.Step || r.Next == nil || st.Kind != KindSay {
		return nil
	}
	if !r.narrated {
		r.narrated = true
		return nil
	}
	if r.lines == nil {
		r.lines = make(chan error)
		go readLines(r.Next, r.lines, r.stop)
	}
	if r.Prompt != nil {
		fmt.Fprint(r.Prompt, "  (Enter to go on)")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err, ok := <-r.lines:
		if !ok || err != nil {
			r.Next = nil // the input ended: no more waiting
		}
	}
	return nil
}

// readLines sends nil on ch for each line read from in, then closes ch at
// its end, or returns once stop is closed. It reads a byte at a time:
// nothing past the line is taken from a terminal.
func readLines(in io.Reader, ch chan<- error, stop <-chan struct{}) {
	defer close(ch)
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 && b[0] == '\n' {
			select {
			case ch <- nil:
			case <-stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// exec runs a step's command line, its files under FilesDir.
func (r *Runner) exec(ctx context.Context, args []string) Result {
	if r.FilesDir != "" {
		args = slices.Clone(args)
		for i := 0; i < len(args)-1; i++ {
			switch args[i] {
			case "--save-dir", "-save-dir", "-o", "--output", "-output":
				if p := args[i+1]; !filepath.IsAbs(p) {
					args[i+1] = filepath.Join(r.FilesDir, "scenario-files", p)
				}
			}
		}
	}
	return r.Exec(ctx, args)
}

// Failure is a failed expectation: where, and what was seen instead.
type Failure struct {
	Step Step
	Saw  string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("line %d: %s failed: %s", f.Step.Line, f.Step.describe(), f.Saw)
}

func (st Step) describe() string {
	cmd := "sessionctl " + strings.Join(quoteAll(st.Args), " ")
	switch st.Kind {
	case KindSay:
		return "say " + st.Text
	case KindExpectFail:
		return "expect fail " + cmd
	case KindExpect, KindWaitUntil:
		verb := "expect"
		if st.Kind == KindWaitUntil {
			verb = "wait until"
		}
		s := verb + " " + cmd
		for _, c := range st.Contains {
			s += fmt.Sprintf(" contains %q", c)
		}
		for _, l := range st.Lacks {
			s += fmt.Sprintf(" lacks %q", l)
		}
		return s
	case KindWaitBlocks:
		return fmt.Sprintf("wait blocks %d", st.Blocks)
	}
	return cmd
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}

type report struct {
	Line    int    `json:"line"`
	Kind    string `json:"kind"`
	Step    string `json:"step"`
	Text    string `json:"text,omitempty"` // what a say line says
	OK      bool   `json:"ok"`
	Output  string `json:"output,omitempty"`
	Problem string `json:"problem,omitempty"`
}

func (r *Runner) emit(st Step, ok bool, output, problem string) {
	if r.Out == nil {
		return
	}
	if r.JSON {
		json.NewEncoder(r.Out).Encode(report{Line: st.Line, Kind: st.Kind, Step: st.describe(), Text: st.Text, OK: ok, Output: output, Problem: problem})
		return
	}
	if st.Kind == KindSay {
		fmt.Fprintf(r.Out, "\n» %s\n", st.Text)
		return
	}
	mark := "ok"
	if !ok {
		mark = "FAILED"
	}
	fmt.Fprintf(r.Out, "[line %d] %s  ... %s\n", st.Line, st.describe(), mark)
	for _, l := range strings.Split(strings.TrimRight(output, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(r.Out, "    %s\n", l)
		}
	}
	if problem != "" {
		fmt.Fprintf(r.Out, "    %s\n", problem)
	}
}

// Run runs the steps in order and stops at the first failure.
func (r *Runner) Run(ctx context.Context, steps []Step) error {
	r.stop, r.lines, r.narrated = make(chan struct{}), nil, false
	defer close(r.stop)
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.pause(ctx, st, i == 0); err != nil {
			return err
		}
		if err := r.step(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) step(ctx context.Context, st Step) error {
	switch st.Kind {
	case KindSay:
		r.emit(st, true, "", "")
	case KindRun:
		res := r.exec(ctx, st.Args)
		if res.Code != 0 {
			saw := firstLine(res.Stderr, res.Stdout)
			r.emit(st, false, res.Stdout, saw)
			return &Failure{Step: st, Saw: fmt.Sprintf("exit code %d: %s", res.Code, saw)}
		}
		r.emit(st, true, res.Stdout, "")
	case KindExpectFail:
		res := r.exec(ctx, st.Args)
		if res.Code == 0 {
			r.emit(st, false, res.Stdout, "it succeeded")
			return &Failure{Step: st, Saw: "it succeeded: " + firstLine(res.Stdout, "")}
		}
		r.emit(st, true, res.Stderr, "")
	case KindExpect:
		res := r.exec(ctx, st.Args)
		if problem := st.check(res); problem != "" {
			r.emit(st, false, res.Stdout, shortProblem(problem))
			return &Failure{Step: st, Saw: problem}
		}
		r.emit(st, true, "", "")
	case KindWaitUntil:
		deadline := time.Now().Add(st.Within)
		var problem string
		for {
			res := r.exec(ctx, st.Args)
			if problem = st.check(res); problem == "" {
				r.emit(st, true, "", "")
				return nil
			}
			if time.Now().After(deadline) {
				r.emit(st, false, res.Stdout, shortProblem(problem))
				return &Failure{Step: st, Saw: fmt.Sprintf("after %v: %s", st.Within, problem)}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	case KindWaitBlocks:
		start, err := r.height(ctx)
		if err != nil {
			return &Failure{Step: st, Saw: err.Error()}
		}
		for {
			h, err := r.height(ctx)
			if err != nil {
				return &Failure{Step: st, Saw: err.Error()}
			}
			if h >= start+uint64(st.Blocks) {
				r.emit(st, true, fmt.Sprintf("height %d", h), "")
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// shortProblem is a check's problem without the output it quotes, for
// the step's report, which shows the output already.
func shortProblem(p string) string {
	p, _, _ = strings.Cut(p, "; it was: ")
	return p
}

func (st Step) check(res Result) string {
	if res.Code != 0 {
		return fmt.Sprintf("exit code %d: %s", res.Code, firstLine(res.Stderr, res.Stdout))
	}
	for _, c := range st.Contains {
		if !strings.Contains(res.Stdout, c) {
			return fmt.Sprintf("the output lacks %q; it was: %s", c, summary(res.Stdout))
		}
	}
	for _, l := range st.Lacks {
		if strings.Contains(res.Stdout, l) {
			return fmt.Sprintf("the output contains %q", l)
		}
	}
	return ""
}

func (r *Runner) height(ctx context.Context) (uint64, error) {
	res := r.Exec(ctx, []string{"ledger", "info", "--json"})
	if res.Code != 0 {
		return 0, fmt.Errorf("ledger info: %s", firstLine(res.Stderr, res.Stdout))
	}
	var info struct {
		Height uint64 `json:"height"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil {
		return 0, fmt.Errorf("ledger info: %w", err)
	}
	return info.Height, nil
}

func firstLine(a, b string) string {
	for _, s := range []string{a, b} {
		if s = strings.TrimSpace(s); s != "" {
			return strings.SplitN(s, "\n", 2)[0]
		}
	}
	return "(no output)"
}

func summary(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		return "(nothing)"
	}
	return s
}

// Load reads and checks the scenario in file (Parse) before anything
// runs: a file that cannot be read or is malformed is an errkind.Invalid
// error.
func Load(file string, verbs map[string]bool) ([]Step, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, errkind.AsInvalid(err)
	}
	defer f.Close()
	steps, err := Parse(f, verbs)
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && len(joined.Unwrap()) > 1 {
		return nil, errkind.Invalidf("%s: %d errors:\n%w", file, len(joined.Unwrap()), err) // a line each (exitcode.Explain)
	}
	if err != nil {
		return nil, errkind.Invalidf("%s: %w", file, err)
	}
	return steps, nil
}
