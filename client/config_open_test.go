package client

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
)

func seedKeys(t *testing.T, h string) *identity.Keys {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatal("bad seed")
	}
	return identity.KeysFromEd25519Seed([32]byte(b))
}

// A real client's push, wrapped as libsession-util's pushed them: the
// empty seqno-0 user profile of its tests/test_config_userprofile.cpp
// ("user profile C API"), 432 bytes of WebSocketMessage, Envelope, sealed
// Content and SharedConfigMessage around the sealed config. It opens to
// the empty config message.
func TestOpenWrappedConfigKnownAnswer(t *testing.T) {
	c := &Client{cfg: Config{Keys: seedKeys(t, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")}}
	if got := hex.EncodeToString(c.cfg.Keys.Ed25519Public()); got != "4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7" {
		t.Fatalf("the test's Ed25519 key: %s", got)
	}
	pushed := "080112ab030a0012001aa20308062801429b0326ec9746282053eb119228e6c36012966e7d2642163169ba39" +
		"98af44ca65f967768dd78ee80fffab6f809f6cef49c73a36c82a89622ff0de2ceee06b8c638e2c876fa9047f" +
		"449dbe24b1fc89281a264fe90abdeffcdd44f797bd4572a6c5ae8d88bf372c3c717943ebd570222206fabf0e" +
		"e9f3c6756f5d71a32616b1df53d12887961f5c129207a79622ccc1a4bba976886d9a6ddf0fe5d570e5075d01" +
		"ecd627f656e95f27b4c40d5661b5664cedd3e568206effa1308b0ccd663ca61a6d39c0731891804a8cf5edcf" +
		"8b98eaa5580c3d436e22156e38455e403869700956c3c1dd0b4470b663e75c98c5b859b53ccef6559215d804" +
		"9f755be9c2d6b3f4a310f97c496fc392f65b6431dd87788ac61074fd8cd409702e1b839b3f774d38cf8b28f0" +
		"226c4efa5220ac6ae060793e36e7ef278d42d042f15b21291f3bb29e3158f09d154b93f83fd8a319811a26cb" +
		"5240d90cbb360fafec0b7eff4c676ae598540813d062dc9468365c73b4cfa2ffd02d48cdcd8f0c71324c6d0a" +
		"60346a7a0e50af3be64684b37f9e6c831115bf112ddd18acde08eaec376f0872a3952000"
	data, _ := hex.DecodeString(pushed)
	plain, why := c.openConfig(base64.StdEncoding.EncodeToString(data), configmsg.UserProfile)
	if why != "" {
		t.Fatal(why)
	}
	if string(plain) != "d1:#i0e1:&de1:<le1:=dee" {
		t.Fatalf("opened to %q", plain)
	}
	if _, why := c.openConfig(base64.StdEncoding.EncodeToString(data), configmsg.Contacts); why == "" {
		t.Fatal("a user profile opened as contacts")
	}
}

// A 'z' message is zstd-compressed, as libsession-util compresses a config
// when that makes it smaller; anything else is refused with its reason.
func TestOpenConfig(t *testing.T) {
	c := &Client{cfg: Config{Keys: seedKeys(t, strings.Repeat("ab", 32))}}
	m := configmsg.New(configmsg.DefaultLag).Increment()
	for i := range 50 {
		configmsg.SetContact(m.Data(), configmsg.Contact{ID: "05" + strings.Repeat("0", 62) + hex.EncodeToString([]byte{byte(i)}), Name: "someone", Approved: true})
	}
	enc, _ := zstd.NewWriter(nil)
	z := append([]byte("z"), enc.EncodeAll(m.Encode(), nil)...)
	if len(z) >= len(m.Encode()) {
		t.Fatal("compression did not shrink the message")
	}
	seal := func(b []byte, k *identity.Keys) string {
		s, err := configmsg.Encrypt(configmsg.Pad(b), k.Ed25519.Seed(), configmsg.Contacts.Domain)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(s)
	}
	plain, why := c.openConfig(seal(z, c.cfg.Keys), configmsg.Contacts)
	if why != "" || string(plain) != string(m.Encode()) {
		t.Fatalf("compressed: %q", why)
	}
	other := seedKeys(t, strings.Repeat("cd", 32))
	for name, in := range map[string]string{
		"not base64":        "%%%",
		"another account's": seal(m.Encode(), other),
		"bad zstd":          seal([]byte("zzzz"), c.cfg.Keys),
		"in parts":          seal([]byte("mli0ee"), c.cfg.Keys),
		"an unknown type":   seal([]byte("x"), c.cfg.Keys),
		"garbage":           base64.StdEncoding.EncodeToString([]byte("garbage that is long enough to be a sealed thing, but is not one at all")),
	} {
		if _, why := c.openConfig(in, configmsg.Contacts); why == "" {
			t.Errorf("%s: opened", name)
		}
	}
}

// FuzzOpenConfig: whatever a swarm returns opens or is refused with a
// reason; it never panics.
func FuzzOpenConfig(f *testing.F) {
	f.Add([]byte("d1:#i0e1:&de1:<le1:=dee"), false)
	f.Add([]byte("z\x28\xb5\x2f\xfd"), true)
	k := identity.KeysFromEd25519Seed([32]byte{1})
	c := &Client{cfg: Config{Keys: k}}
	f.Fuzz(func(t *testing.T, b []byte, seal bool) {
		in := b
		if seal {
			s, err := configmsg.Encrypt(b, k.Ed25519.Seed(), configmsg.UserProfile.Domain)
			if err != nil {
				return
			}
			in = s
		}
		plain, why := c.openConfig(base64.StdEncoding.EncodeToString(in), configmsg.UserProfile)
		if why == "" && (len(plain) == 0 || plain[0] != 'd' || len(plain) > maxConfigSize) {
			t.Fatalf("opened to %q", plain)
		}
	})
}

// Two requests signed at one instant carry different timestamps: a node
// refuses a signature it has seen.
func TestSigNowAdvances(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	c := &Client{cfg: Config{Now: func() time.Time { return at }}}
	a, b, d := c.sigNow(), c.sigNow(), c.sigNow()
	if a != at.UnixMilli() || b != a+1 || d != a+2 {
		t.Fatalf("%d %d %d", a, b, d)
	}
	at = at.Add(time.Second)
	if e := c.sigNow(); e != at.UnixMilli() {
		t.Fatalf("after the clock moved on: %d", e)
	}
}
