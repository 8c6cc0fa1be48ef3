package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"
)

// Snapshots: a whole stopped devnet (the chain, every node's storage, the
// servers, the keys, the clients' and groups' state) saved under
// <dir>/snapshots/NAME and loaded back, so a workshop can rewind to a known
// point. A snapshot is taken of a stopped devnet (its databases are then
// consistent on disk): 'devnet down', save, 'devnet up'.

// Errors of snapshots, for errors.Is.
var (
	ErrSnapshotName   = errors.New("a snapshot name is 1-64 characters of a-z, 0-9, '_' and '-'")
	ErrNoSnapshot     = errors.New("no such snapshot")
	ErrSnapshotExists = errors.New("a snapshot of that name exists")
)

var snapshotNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// notSaved are what a snapshot leaves out: the logs, the snapshots
// themselves, the lock and the manifest of a running devnet.
var notSaved = []string{"logs", "snapshots", filepath.Join("devnet", "lock"), "devnet.json"}

// Snapshot describes a saved snapshot.
type Snapshot struct {
	Name  string    `json:"name"`
	Saved time.Time `json:"saved"`
}

func snapshotDir(dir, name string) (string, error) {
	if !snapshotNameRE.MatchString(name) {
		return "", fmt.Errorf("%w: %q", ErrSnapshotName, name)
	}
	return filepath.Join(Dir(dir).SnapshotsDir(), name), nil
}

// SaveSnapshot copies the stopped devnet under dir to the snapshot name.
// A running devnet is refused (ErrRunning); an existing snapshot is kept
// unless replace.
func SaveSnapshot(dir, name string, replace bool) error {
	dst, err := snapshotDir(dir, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(statePath(dir)); err != nil {
		return fmt.Errorf("%w under %s: nothing to save", ErrNotRunning, dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("%w; stop it first ('sessionctl devnet down'): a snapshot is taken of a stopped devnet", err)
	}
	defer lock.Close()
	if _, err := os.Stat(dst); err == nil && !replace {
		return fmt.Errorf("%w: %q (--replace overwrites it)", ErrSnapshotExists, name)
	}
	tmp := dst + ".partial"
	os.RemoveAll(tmp)
	if err := copyTree(dir, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.RemoveAll(dst)
	return os.Rename(tmp, dst)
}

// LoadSnapshot replaces the stopped devnet under dir with the snapshot name.
func LoadSnapshot(dir, name string) error {
	src, err := snapshotDir(dir, name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(Dir(src).StateFile()); err != nil {
		return fmt.Errorf("%w: %q", ErrNoSnapshot, name)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("%w; stop it first ('sessionctl devnet down')", err)
	}
	defer lock.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case "logs", "snapshots":
			continue
		case "devnet":
			// Keep the lock file this call holds; the rest goes.
			sub, err := os.ReadDir(filepath.Join(dir, "devnet"))
			if err != nil {
				return err
			}
			for _, s := range sub {
				if s.Name() != "lock" {
					if err := os.RemoveAll(filepath.Join(dir, "devnet", s.Name())); err != nil {
						return err
					}
				}
			}
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return copyTree(src, dir)
}

// Snapshots lists the snapshots saved under dir, oldest first.
func Snapshots(dir string) ([]Snapshot, error) {
	entries, err := os.ReadDir(Dir(dir).SnapshotsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return []Snapshot{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Snapshot{}
	for _, e := range entries {
		if !e.IsDir() || !snapshotNameRE.MatchString(e.Name()) {
			continue
		}
		info, err := os.Stat(Dir(filepath.Join(Dir(dir).SnapshotsDir(), e.Name())).StateFile())
		if err != nil {
			continue
		}
		out = append(out, Snapshot{Name: e.Name(), Saved: info.ModTime().UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Saved.Before(out[j].Saved) })
	return out, nil
}

// copyTree copies the regular files and directories under src to dst,
// with their modes, leaving out notSaved (relative to src). Anything else
// (a symlink, a socket) is refused.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if slices.Contains(notSaved, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return fmt.Errorf("snapshot: %s is not a regular file or directory", path)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			os.Remove(dst)
			out, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, mode)
		}
		if err != nil {
			return err
		}
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// SnapshotDone is what a snapshot command did.
type SnapshotDone struct {
	Saved  string `json:"saved,omitempty"`
	Loaded string `json:"loaded,omitempty"`
}

// WriteText says what was done, and what to do next.
func (s SnapshotDone) WriteText(w io.Writer) error {
	var err error
	if s.Saved != "" {
		_, err = fmt.Fprintf(w, "saved snapshot %q; 'sessionctl devnet snapshot load %s' rewinds to it\n", s.Saved, s.Saved)
	} else {
		_, err = fmt.Fprintf(w, "loaded snapshot %q; 'sessionctl devnet up' resumes the devnet as it was then\n", s.Loaded)
	}
	return err
}

// SnapshotCommand runs 'devnet snapshot save|load NAME' on dir.
func SnapshotCommand(ctx context.Context, dir, verb, name string, replace bool) (SnapshotDone, error) {
	switch verb {
	case "save":
		return SnapshotDone{Saved: name}, SaveSnapshot(dir, name, replace)
	case "load":
		return SnapshotDone{Loaded: name}, LoadSnapshot(dir, name)
	}
	return SnapshotDone{}, fmt.Errorf("snapshot %q: want save or load", verb)
}
