package display

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

func TestLookupIdentity(t *testing.T) {
	ks := identity.OpenKeystore(t.TempDir())
	k, err := identity.AccountFromPhrase("afraid lagoon wetsuit donuts sanity javelin mundane yields mocked fatal beer july mundane")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Create("alice", k); err != nil {
		t.Fatal(err)
	}
	id := k.AccountID().String()
	got, err := LookupIdentity(ks, "alice", true, strings.Repeat("ab", 32))
	if err != nil || got.Name != "alice" || got.AccountID != id || got.RecoveryPhrase == "" || len(got.BlindedIDs) != 2 || got.Blinded25 == "" {
		t.Fatalf("alice: %+v, %v", got, err)
	}
	var b strings.Builder
	got.WriteText(&b)
	for _, want := range []string{"name:            alice", "account ID:      " + id, "blinded ID:      15", "25-blinded ID:   25"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "sign unknown") {
		t.Error("the sign is known for an identity of the keystore")
	}
	// An Account ID from elsewhere: what it alone tells, both blinded IDs.
	ok, err := identity.NewAccount(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := ok.AccountID().String()
	got, err = LookupIdentity(ks, other, false, strings.Repeat("ab", 32))
	if err != nil || got.Name != "" || got.Ed25519Pubkey != "" || got.SwarmSpace == "" || len(got.BlindedIDs) != 2 {
		t.Fatalf("an ID: %+v, %v", got, err)
	}
	for _, bad := range []struct {
		arg, key string
		phrase   bool
	}{{other, "", true}, {"no such!", "", false}, {"alice", "xyz", false}} {
		if _, err := LookupIdentity(ks, bad.arg, bad.phrase, bad.key); errkind.Of(err) != errkind.Invalid {
			t.Errorf("LookupIdentity(%q, %v, %q): %v", bad.arg, bad.phrase, bad.key, err)
		}
	}
}
