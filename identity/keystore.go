package identity

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/atomicfile"
)

// Keystore errors, for errors.Is.
var (
	ErrNameInvalid   = errors.New("an identity name is 1-32 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit")
	ErrNameExists    = errors.New("an identity with that name already exists")
	ErrAccountExists = errors.New("that account is already in the keystore")
	ErrNotFound      = errors.New("no such identity in the keystore")
	ErrKeyFile       = errors.New("malformed key file")
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidName reports whether name can name an identity. Names are short, so a
// name is never mistaken for an Account ID.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: %q", ErrNameInvalid, name)
	}
	return nil
}

// keyFileVersion is the format version of a key file.
const keyFileVersion = 1

// keyFile is the on-disk form of one identity: <dir>/<name>.json, mode 0600.
type keyFile struct {
	Version   int       `json:"version"`
	Name      string    `json:"name"`
	Seed      string    `json:"seed"` // hex: 16 bytes (account) or 32 (raw Ed25519 seed)
	AccountID string    `json:"account_id"`
	Created   time.Time `json:"created"`
	// DeviceOf names the identity this one is another device of: the same
	// account (the same seed), with its own client state.
	DeviceOf string `json:"device_of,omitempty"`
}

// Entry is one named identity of the keystore.
type Entry struct {
	Name    string
	Keys    *Keys
	Created time.Time
	// DeviceOf is set on a linked device (Link): the identity it is a
	// device of.
	DeviceOf string
}

// Keystore keeps named identities as one file each in a directory (mode 0700).
// It never overwrites a key. Many processes may read it; creation is atomic
// (O_EXCL on the final name after the content is written and synced).
type Keystore struct {
	dir string
	now func() time.Time
}

// OpenKeystore returns the keystore in dir. The directory is created on the
// first Create.
func OpenKeystore(dir string) *Keystore { return &Keystore{dir: dir, now: time.Now} }

// Dir returns the keystore's directory.
func (ks *Keystore) Dir() string { return ks.dir }

func (ks *Keystore) path(name string) string { return filepath.Join(ks.dir, name+".json") }

// Create stores keys under name. It refuses an invalid or taken name and an
// account that is already stored under another name (Link makes a second
// device of one).
func (ks *Keystore) Create(name string, k *Keys) (*Entry, error) {
	if e, err := ks.FindAccount(k.AccountID()); err == nil {
		return nil, fmt.Errorf("%w as %q", ErrAccountExists, e.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return ks.create(name, k, "")
}

// Link stores another device of the identity of: the same account under
// device, whose client state is its own. A device of a device is a device
// of the first.
func (ks *Keystore) Link(device string, of *Entry) (*Entry, error) {
	orig := of.Name
	if of.DeviceOf != "" {
		orig = of.DeviceOf
	}
	return ks.create(device, of.Keys, orig)
}

func (ks *Keystore) create(name string, k *Keys, deviceOf string) (*Entry, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ks.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create keystore %q: %w", ks.dir, err)
	}
	if err := os.Chmod(ks.dir, 0o700); err != nil {
		return nil, fmt.Errorf("secure keystore %q: %w", ks.dir, err)
	}
	if _, err := os.Stat(ks.path(name)); err == nil {
		return nil, fmt.Errorf("%w: %q", ErrNameExists, name)
	}
	e := &Entry{Name: name, Keys: k, Created: ks.now().UTC().Truncate(time.Second), DeviceOf: deviceOf}
	data, err := json.MarshalIndent(keyFile{
		Version:   keyFileVersion,
		Name:      name,
		Seed:      hex.EncodeToString(k.seed),
		AccountID: k.AccountID().String(),
		Created:   e.Created,
		DeviceOf:  deviceOf,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Create(ks.path(name), append(data, '\n'), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %q", ErrNameExists, name)
		}
		return nil, fmt.Errorf("write key %q: %w", name, err)
	}
	return e, nil
}

// Get returns the identity called name.
func (ks *Keystore) Get(name string) (*Entry, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(ks.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read key %q: %w", name, err)
	}
	e, err := decodeKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("key file %q: %w", ks.path(name), err)
	}
	if e.Name != name {
		return nil, fmt.Errorf("key file %q: %w: it names %q", ks.path(name), ErrKeyFile, e.Name)
	}
	return e, nil
}

// decodeKeyFile parses and checks a key file: the seed must derive the
// Account ID the file records, so a damaged file is never used as a key.
func decodeKeyFile(data []byte) (*Entry, error) {
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if f.Version != keyFileVersion {
		return nil, fmt.Errorf("%w: version %d, this sessionctl reads %d", ErrKeyFile, f.Version, keyFileVersion)
	}
	if err := ValidName(f.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	seed, err := hex.DecodeString(f.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: seed is not hex", ErrKeyFile)
	}
	var k *Keys
	switch len(seed) {
	case SeedSize:
		k = AccountFromSeed([SeedSize]byte(seed))
	case 32:
		k = KeysFromEd25519Seed([32]byte(seed))
	default:
		return nil, fmt.Errorf("%w: seed of %d bytes", ErrKeyFile, len(seed))
	}
	if got := k.AccountID().String(); got != f.AccountID {
		return nil, fmt.Errorf("%w: seed gives account %s, file says %s", ErrKeyFile, got, f.AccountID)
	}
	if f.DeviceOf != "" {
		if err := ValidName(f.DeviceOf); err != nil {
			return nil, fmt.Errorf("%w: device_of: %v", ErrKeyFile, err)
		}
	}
	return &Entry{Name: f.Name, Keys: k, Created: f.Created, DeviceOf: f.DeviceOf}, nil
}

// List returns every identity, sorted by name. A missing keystore is empty.
func (ks *Keystore) List() ([]*Entry, error) {
	des, err := os.ReadDir(ks.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keystore %q: %w", ks.dir, err)
	}
	var out []*Entry
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || de.IsDir() || ValidName(name) != nil {
			continue
		}
		e, err := ks.Get(name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FindAccount returns the identity whose Account ID is id: the first of
// its devices (not a linked one) if it has several.
func (ks *Keystore) FindAccount(id AccountID) (*Entry, error) {
	all, err := ks.List()
	if err != nil {
		return nil, err
	}
	var device *Entry
	for _, e := range all {
		if e.Keys.AccountID() == id {
			if e.DeviceOf == "" {
				return e, nil
			}
			if device == nil {
				device = e
			}
		}
	}
	if device != nil {
		return device, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Resolve finds an identity by name or by Account ID.
func (ks *Keystore) Resolve(nameOrID string) (*Entry, error) {
	if len(nameOrID) == AccountIDLen {
		id, err := ParseAccountID(nameOrID)
		if err != nil {
			return nil, err
		}
		return ks.FindAccount(id)
	}
	return ks.Get(nameOrID)
}
