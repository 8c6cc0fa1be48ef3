package node

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// A devnet's nodes read their quorums without copies of the rounds' votes.
var _ QuorumSource = ledgerrpc.Local{}

// The logs name the node, and the nodes it deals with, as Config says; by
// the first 8 hex digits of their keys where it says nothing.
func TestLogNames(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	other := strings.Repeat("ab", 32)
	var buf bytes.Buffer
	cfg := Config{Key: key, DataDir: t.TempDir(), Ledger: ledgerrpc.NewClient("http://127.0.0.1:1", ""), Logger: zerolog.New(&buf),
		Name: "node-3", NameOf: func(k string) string { return map[string]string{other: "node-7"}[k] }}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.log.Info().Str("target", n.nameOf(other)).Str("to", n.nameOf(strings.Repeat("cd", 32))).Msg("voted")
	if got, want := buf.String(), `{"level":"info","node":"node-3","target":"node-7","to":"cdcdcdcd","message":"voted"}`; strings.TrimSpace(got) != want {
		t.Errorf("log line %s, want %s", got, want)
	}
	buf.Reset()
	cfg.Name, cfg.NameOf = "", nil
	if n, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	n.log.Info().Str("target", n.nameOf(other)).Msg("voted")
	if got, want := buf.String(), `"node":"`+n.pubHex[:8]+`","target":"abababab"`; !strings.Contains(got, want) {
		t.Errorf("log line %s, want %s", got, want)
	}
}
