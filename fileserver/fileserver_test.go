package fileserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/onion"
)

// TestAPI: the file server's API as SPEC 9 and real clients have it: POST
// /file answers 200 and an id of decimal digits; GET /file/{id} the bytes;
// GET /file/{id}/info the size and times in unix seconds.
func TestAPI(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	now := time.Unix(1_700_000_000, 0)
	s, err := New(Config{Dir: t.TempDir(), Key: key, Expiry: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Post(s.URL()+"/file", "application/octet-stream", strings.NewReader("some bytes"))
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != 200 || up.ID == "" || strings.Trim(up.ID, "0123456789") != "" {
		t.Fatalf("upload: %d, id %q", resp.StatusCode, up.ID)
	}
	resp, err = http.Get(s.URL() + "/file/" + up.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, []byte("some bytes")) {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Get(s.URL() + "/file/" + up.ID + "/info")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["id"] != up.ID || info["size"] != 10.0 || info["uploaded"] != 1_700_000_000.0 || info["expires"] != 1_700_003_600.0 {
		t.Fatalf("info: %v", info)
	}
	for _, id := range []string{"1", "abc", "..%2f..%2fetc"} {
		resp, err := http.Get(s.URL() + "/file/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET /file/%s: %d, want 404", id, resp.StatusCode)
		}
	}
}
