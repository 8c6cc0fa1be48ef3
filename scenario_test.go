package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/internal/exitcode"
)

// TestExamples runs every example scenario on a fresh devnet, as a
// workshop would: `devnet up --scenario FILE`.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("examples/*.scenario")
	if len(files) < 5 {
		t.Fatalf("%d example scenarios", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"sessionctl", "--dir", t.TempDir(), "devnet", "up", "--nodes", "12", "--block-time", "250ms", "--scenario", f}, &out, &errb)
			if code != 0 || !strings.Contains(out.String(), "scenario passed") {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
			}
			if _, err := os.Stat("examples-out"); err == nil {
				os.RemoveAll("examples-out")
				t.Fatal("the scenario wrote into the source tree")
			}
		})
	}
}

func TestScenarioFailuresAndMalformed(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.scenario")
	os.WriteFile(bad, []byte("say fine\nfrobnicate everything\nsend alice \"unclosed\nwait blocks many\nexpect fetch --as bob containz \"x\"\n"), 0o600)
	var out, errb bytes.Buffer
	code := run([]string{"sessionctl", "--dir", dir, "scenario", "run", bad}, &out, &errb)
	for _, want := range []string{`line 2: unknown verb "frobnicate"`, "line 3: unclosed \" quote", "line 4: wait blocks", `line 5: "containz": did you mean "contains"?`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("missing %q in %q", want, errb.String())
		}
	}
	if code != exitcode.Usage {
		t.Fatalf("a malformed scenario: exit %d", code)
	}
	failing := filepath.Join(dir, "fail.scenario")
	os.WriteFile(failing, []byte("send alice bob \"one\"\n\n# a wrong expectation\nexpect fetch --as bob contains \"two\"\n"), 0o600)
	out.Reset()
	errb.Reset()
	code = run([]string{"sessionctl", "--dir", filepath.Join(dir, "net"), "devnet", "up", "--nodes", "5", "--scenario", failing}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "line 4:") || !strings.Contains(errb.String(), `lacks "two"`) {
		t.Fatalf("a failing scenario: exit %d, %q", code, errb.String())
	}
	// Against no devnet: exit 3.
	good := filepath.Join(dir, "good.scenario")
	os.WriteFile(good, []byte("say hi\n"), 0o600)
	if code := run([]string{"sessionctl", "--dir", filepath.Join(dir, "none"), "scenario", "run", good}, &out, &errb); code != exitcode.NoNetwork {
		t.Fatalf("no devnet: exit %d", code)
	}
}
