package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/internal/flock"
)

// Store keeps each device's groups on disk:
//
//	<Dir>/device/<name>/<group ID>.json   groups of libsession's kind, per device
//	<Dir>/<account ID, 16 digits>/<group ID>.json   the old kind, per account
//
// Two devices of one account keep their own state (each reads the group's
// swarm and the account's user groups config itself). Files are 0600.
type Store struct{ Dir string }

// checkDevice checks a device name before it becomes a path.
func checkDevice(device string) error {
	if err := identity.ValidName(device); err != nil {
		return fmt.Errorf("group store: device %q: %w", device, err)
	}
	return nil
}

func (st *Store) deviceDir(device string) string {
	return filepath.Join(st.Dir, "device", device)
}

// path is the file of group id for device. The ID must be a group's
// Account ID (66 hex digits starting 03), so no argument ever becomes a
// path outside the store.
func (st *Store) path(device, id string) (string, error) {
	if err := checkDevice(device); err != nil {
		return "", err
	}
	gid, err := identity.ParseAccountID(id)
	if err != nil || gid.Prefix != identity.PrefixGroup {
		return "", fmt.Errorf("%w %q", ErrUnknown, id)
	}
	return filepath.Join(st.deviceDir(device), gid.String()+".json"), nil
}

// Save writes a group.
func (st *Store) Save(device string, g *Group) error {
	g.Version = Format
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	path, err := st.path(device, g.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// readGroup reads a group file; old is true for a group of the old kind.
func readGroup(path string) (g *Group, old bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	g = &Group{}
	if err := json.Unmarshal(data, g); err != nil {
		// The old kind's files hold other types under the same names.
		var o oldGroup
		if json.Unmarshal(data, &o) == nil && o.ID != "" {
			return o.group(), true, nil
		}
		return nil, false, fmt.Errorf("the group file %s is damaged: %w", filepath.Base(path), err)
	}
	if g.Version == 0 {
		var o oldGroup
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, false, fmt.Errorf("the group file %s is damaged: %w", filepath.Base(path), err)
		}
		return o.group(), true, nil
	}
	if g.Version != Format {
		return nil, false, fmt.Errorf("the group file %s is of format %d, which this sessionctl does not read", filepath.Base(path), g.Version)
	}
	if g.LastHash == nil {
		g.LastHash = map[string]string{}
	}
	return g, false, nil
}

// oldGroup is what sessionctl kept of a group before its groups were
// libsession's: enough to name it and leave it.
type oldGroup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Me   string `json:"me"`
}

func (o oldGroup) group() *Group {
	return &Group{ID: o.ID, Name: o.Name, Me: o.Me, LastHash: map[string]string{}}
}

// Entry is a group as listed: of libsession's kind, or the old one.
type Entry struct {
	*Group
	Old bool
}

// Load reads a group by ID, or by name when that is unambiguous, for
// device of account me. A group of the old kind comes back with
// ErrOldKind (and the group, which can be left).
func (st *Store) Load(device, me, idOrName string) (*Group, error) {
	all, err := st.List(device, me)
	if err != nil {
		return nil, err
	}
	var found *Entry
	for i, e := range all {
		if e.ID == strings.ToLower(idOrName) {
			found = &all[i]
			break
		}
	}
	if found == nil {
		for i, e := range all {
			if e.Name == idOrName {
				if found != nil {
					return nil, fmt.Errorf("two groups are named %q: use the group ID", idOrName)
				}
				found = &all[i]
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknown, idOrName)
	}
	if found.Old {
		return found.Group, fmt.Errorf("%q: %w", found.Name, ErrOldKind)
	}
	return found.Group, nil
}

// List returns the groups of device (account me): its own, then those of
// the old kind the account had.
func (st *Store) List(device, me string) ([]Entry, error) {
	if err := checkDevice(device); err != nil {
		return nil, err
	}
	if _, err := identity.ParseAccountID(me); err != nil {
		return nil, fmt.Errorf("group store: identity %q: %w", me, err)
	}
	var out []Entry
	seen := map[string]bool{}
	for _, dir := range []string{st.deviceDir(device), filepath.Join(st.Dir, me[:16])} {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if gid, err := identity.ParseAccountID(id); !ok || err != nil || gid.Prefix != identity.PrefixGroup || seen[id] {
				continue
			}
			g, old, err := readGroup(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			seen[id] = true
			out = append(out, Entry{Group: g, Old: old})
		}
	}
	return out, nil
}

// Remove forgets a group on device (and, for the old kind, on the
// account's old store).
func (st *Store) Remove(device, me, id string) error {
	path, err := st.path(device, id)
	if err != nil {
		return err
	}
	paths := []string{path}
	if _, err := identity.ParseAccountID(me); err == nil {
		paths = append(paths, filepath.Join(st.Dir, me[:16], filepath.Base(path)))
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Lock takes device's lock (in this process and others: a flock on a
// file beside its groups) until the function returned is called: one
// command at a time changes a device's groups. It waits until ctx ends.
func (st *Store) Lock(ctx context.Context, device string) (func(), error) {
	if err := checkDevice(device); err != nil {
		return nil, err
	}
	dir := st.deviceDir(device)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := flock.TryLock(f, true)
		if err == nil {
			return func() { flock.Unlock(f); f.Close() }, nil
		}
		if !errors.Is(err, flock.ErrLocked) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another command is changing this device's groups: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
