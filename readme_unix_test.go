//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's command blocks are scripts that TestReadme runs, so that
// they cannot drift from what sessionctl does. Every ```sh block runs, in
// the README's order, in bash (-euxo pipefail: every command must succeed)
// in one temporary directory, against a real devnet: a block that starts
// one ('devnet up') runs with none running, any other with one running
// (the test starts it, with blocks of 250 ms, when none does). A block that
// cannot run here says so on the line before its fence:
//
//	<!-- not run by TestReadme: WHY -->
//
// and a block that is neither run nor marked fails the test, as does a
// command block whose fence is not ```sh, or a marker without a block.

// readmeMarker opens the comment that keeps the next block from running.
const readmeMarker = "<!-- not run by TestReadme:"

// readmeBlock is one command block of the README.
type readmeBlock struct {
	line int    // of its opening fence
	text string // the script
	skip string // why it is not run, or ""
}

// readmeBlocks returns the README's command blocks, or what is wrong
// with how they are written.
func readmeBlocks(data []byte) ([]readmeBlock, error) {
	var blocks []readmeBlock
	var errs []error
	var cur *readmeBlock
	lang, pending, pendingLine := "", "", 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && lang == "" && strings.HasPrefix(line, "```"):
			lang = strings.TrimSpace(strings.TrimPrefix(line, "```"))
			if lang == "" {
				lang = "text"
			}
			switch lang {
			case "sh":
				cur = &readmeBlock{line: n, skip: pending}
				pending = ""
			case "bash", "shell", "console", "zsh":
				errs = append(errs, fmt.Errorf("line %d: a command block is ```sh, not ```%s", n, lang))
			}
			if pending != "" {
				errs = append(errs, fmt.Errorf("line %d: the marker is followed by a ```%s block, not ```sh", pendingLine, lang))
				pending = ""
			}
		case lang != "" && strings.HasPrefix(line, "```"):
			if cur != nil {
				blocks = append(blocks, *cur)
			}
			cur, lang = nil, ""
		case cur != nil:
			cur.text += line + "\n"
		case lang != "":
			// Output, not commands: unless it reads like commands.
			if t := strings.TrimPrefix(strings.TrimSpace(line), "$ "); strings.HasPrefix(t, "sessionctl ") {
				errs = append(errs, fmt.Errorf("line %d: a command in a ```%s block: make it ```sh", n, lang))
			}
		case strings.HasPrefix(line, readmeMarker):
			why := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, readmeMarker), "-->"))
			if why == "" || !strings.HasSuffix(line, "-->") {
				errs = append(errs, fmt.Errorf("line %d: a marker says why on one line: %s WHY -->", n, readmeMarker))
			}
			pending, pendingLine = why, n
		case pending != "" && strings.TrimSpace(line) != "":
			errs = append(errs, fmt.Errorf("line %d: the marker is not followed by a block", pendingLine))
			pending = ""
		}
	}
	if pending != "" {
		errs = append(errs, fmt.Errorf("line %d: the marker is not followed by a block", pendingLine))
	}
	if lang != "" {
		errs = append(errs, errors.New("the README ends inside a block"))
	}
	return blocks, errors.Join(errs...)
}

func TestReadmeBlocksParse(t *testing.T) {
	blocks, err := readmeBlocks([]byte("a\n```sh\nsessionctl x\n```\n" + readmeMarker + " slow -->\n```sh\nsessionctl y\n```\n```\nready 68 ms\n```\n"))
	if err != nil || len(blocks) != 2 || blocks[0].text != "sessionctl x\n" || blocks[0].skip != "" || blocks[1].skip != "slow" || blocks[1].line != 6 {
		t.Fatalf("%+v, %v", blocks, err)
	}
	for _, bad := range []string{
		"```bash\nsessionctl x\n```\n",           // not sh
		"```\nsessionctl x\n```\n",               // a command in an output block
		readmeMarker + " slow -->\ntext\n",       // a marker without a block
		readmeMarker + " -->\n```sh\nx\n```\n",   // without a reason
		readmeMarker + " x -->\n```\nout\n```\n", // before an output block
		"```sh\nsessionctl x\n",                  // unclosed
	} {
		if _, err := readmeBlocks([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestReadme runs the README's command blocks (see above).
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet and every command of the README")
	}
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's blocks need %s: apt-get install %s", tool, tool)
		}
	}
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(data)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	writeReadmeFiles(t, work)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIONCTL_") {
			env = append(env, kv)
		}
	}
	run := func(ctx context.Context, script string) (string, error) {
		cmd := exec.CommandContext(ctx, "bash", "-euxo", "pipefail", "-c", script) // -x: a failure shows its command
		cmd.Dir, cmd.Env = work, env
		// Its own process group: a block's background job ends with it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 10 * time.Second
		out, err := cmd.CombinedOutput()
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left running in the background
		}
		return string(out), err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run(ctx, "sessionctl devnet down || [ $? = 3 ]")
	})
	ran := 0
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("README.md:%d not run: %s", b.line, b.skip)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		prepare := "sessionctl devnet status >/dev/null || sessionctl devnet up --detach --block-time 250ms >/dev/null"
		if strings.Contains(b.text, "sessionctl devnet up") {
			prepare = "sessionctl devnet down >/dev/null || [ $? = 3 ]"
		}
		if out, err := run(ctx, prepare); err != nil {
			cancel()
			t.Fatalf("before README.md:%d: %s: %v\n%s", b.line, prepare, err, out)
		}
		began := time.Now()
		out, err := run(ctx, b.text)
		cancel()
		if err != nil {
			t.Fatalf("README.md:%d: %v\n--- the block:\n%s--- its output:\n%s", b.line, err, b.text, out)
		}
		t.Logf("README.md:%d ran in %v", b.line, time.Since(began).Round(time.Millisecond))
		ran++
	}
	if ran == 0 {
		t.Fatal("no block of the README ran")
	}
}

// writeReadmeFiles writes the files the README's blocks name: a picture
// (face.png) and a document (slides.pdf).
func writeReadmeFiles(t *testing.T, dir string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"face.png": pic.Bytes(), "slides.pdf": []byte("%PDF-1.4\n% the slides\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
