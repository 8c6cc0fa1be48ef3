package identity

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKeystore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks := OpenKeystore(dir)
	if all, err := ks.List(); err != nil || len(all) != 0 {
		t.Fatalf("empty keystore: %v, %v", all, err)
	}
	alice, _ := NewAccount(rand.Reader)
	if _, err := ks.Create("alice", alice); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "alice.json"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	e, err := ks.Get("alice")
	if err != nil || e.Keys.AccountID() != alice.AccountID() || e.Keys.Phrase() != alice.Phrase() {
		t.Fatalf("Get = %+v, %v", e, err)
	}
	if e, err := ks.Resolve(alice.AccountID().String()); err != nil || e.Name != "alice" {
		t.Fatalf("Resolve by account = %+v, %v", e, err)
	}

	bob, _ := NewAccount(rand.Reader)
	for _, tc := range []struct {
		name string
		keys *Keys
		want error
	}{
		{"alice", bob, ErrNameExists},
		{"alice2", alice, ErrAccountExists},
		{"Alice", bob, ErrNameInvalid},
		{"../x", bob, ErrNameInvalid},
		{"", bob, ErrNameInvalid},
	} {
		if _, err := ks.Create(tc.name, tc.keys); !errors.Is(err, tc.want) {
			t.Errorf("Create(%q) = %v, want %v", tc.name, err, tc.want)
		}
	}
	if e, _ := ks.Get("alice"); e.Keys.AccountID() != alice.AccountID() {
		t.Fatal("a refused Create changed alice")
	}

	raw := KeysFromEd25519Seed([32]byte{1, 2, 3})
	if _, err := ks.Create("node-1", raw); err != nil {
		t.Fatal(err)
	}
	all, err := ks.List()
	if err != nil || len(all) != 2 || all[0].Name != "alice" || all[1].Name != "node-1" {
		t.Fatalf("List = %v, %v", all, err)
	}
	if all[1].Keys.HasPhrase() || all[1].Keys.Phrase() != "" {
		t.Error("a raw Ed25519 key has no phrase")
	}
	if _, err := ks.Get("carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(carol) = %v, want ErrNotFound", err)
	}
}

func TestKeystoreRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	ks := OpenKeystore(dir)
	k, _ := NewAccount(rand.Reader)
	if _, err := ks.Create("alice", k); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alice.json")
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0x01 // flip a bit somewhere in the JSON
	os.WriteFile(path, data, 0o600)
	if _, err := ks.Get("alice"); err == nil {
		// The flip may land in the date; then the file still decodes to the same key.
		e, _ := ks.Get("alice")
		if e.Keys.AccountID() != k.AccountID() {
			t.Fatal("a damaged key file gave another key")
		}
	}
}

func FuzzDecodeKeyFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"name":"alice","seed":"39038c8988db02c1af44e8c847bd9713","account_id":"054830367d369d94605247999a375dbd0a0f65fdec5de1535612bcb6d4de452c69","created":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"name":"n","seed":"0102030000000000000000000000000000000000000000000000000000000000"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeKeyFile(data)
		if err != nil {
			return
		}
		if ValidName(e.Name) != nil || e.Keys == nil {
			t.Fatalf("accepted %q as %+v", data, e)
		}
	})
}
