package group

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
)

// Store keeps groups on disk: <dir>/<identity>/<group>.json, mode 0600.
type Store struct{ Dir string }

// path is the file of group id for identity me. Both must be Account IDs
// (66 hex characters; a group's starts 03), so no argument ever becomes a
// path outside the store.
func (st *Store) path(me, id string) (string, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return "", fmt.Errorf("group store: identity %q: %w", me, err)
	}
	gid, err := identity.ParseAccountID(id)
	if err != nil || gid.Prefix != identity.PrefixGroup {
		return "", fmt.Errorf("%w %q", ErrUnknown, id)
	}
	return filepath.Join(st.Dir, me[:16], gid.String()+".json"), nil
}

// Save writes a group.
func (st *Store) Save(me string, g *Group) error {
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	path, err := st.path(me, g.ID)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// Load reads a group by ID, or by name when that is unambiguous.
func (st *Store) Load(me, idOrName string) (*Group, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return nil, fmt.Errorf("group store: identity %q: %w", me, err)
	}
	path, perr := st.path(me, idOrName)
	if data, err := os.ReadFile(path); perr == nil && err == nil {
		var g Group
		if err := json.Unmarshal(data, &g); err != nil {
			return nil, fmt.Errorf("group file of %s is damaged: %w", idOrName, err)
		}
		if g.Keys == nil {
			g.Keys = map[int]string{}
		}
		if g.LastHash == nil {
			g.LastHash = map[string]string{}
		}
		return &g, nil
	}
	all, err := st.List(me)
	if err != nil {
		return nil, err
	}
	var found *Group
	for _, g := range all {
		if g.Name == idOrName {
			if found != nil {
				return nil, fmt.Errorf("two groups are named %q: use the group ID", idOrName)
			}
			found = g
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknown, idOrName)
	}
	return found, nil
}

// List returns the groups of an identity.
func (st *Store) List(me string) ([]*Group, error) {
	if _, err := identity.ParseAccountID(me); err != nil {
		return nil, fmt.Errorf("group store: identity %q: %w", me, err)
	}
	entries, err := os.ReadDir(filepath.Join(st.Dir, me[:16]))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Group
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			g, err := st.Load(me, id)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
	}
	return out, nil
}

// Remove forgets a group.
func (st *Store) Remove(me, id string) error {
	path, err := st.path(me, id)
	if err != nil {
		return err
	}
	err = os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
