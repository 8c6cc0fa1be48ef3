package scenario

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
