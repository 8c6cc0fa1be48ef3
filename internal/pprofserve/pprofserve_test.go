package pprofserve

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:6060", "10.0.0.1:6060", "example.com:80", "6060"} {
		if _, err := Start(bad); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Start(%q): %v", bad, err)
		}
	}
	addr, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
