package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/sqlitedb"
)

// Snapshots: a whole devnet (the chain, every node's storage, the servers,
// the keys, the clients' and groups' state) saved under
// <dir>/snapshots/NAME and loaded back, so a workshop can rewind to a known
// point, as anvil's evm_snapshot and evm_revert do.
//
// A stopped devnet is copied file by file. A running one is copied without
// stopping it: each SQLite database by an online backup (sqlitedb.Backup:
// the committed transactions; the ledger writes each block in one, so its
// copy ends at a block boundary, and a node acknowledges a message once
// its store committed), every other file as it is (they are written whole,
// by rename). Loading into a running devnet rewinds it in place: the
// devnet that 'devnet up' runs (Serve) stops, takes the snapshot's files
// and starts again from them, on the same control address and token, so
// an open dashboard reconnects. Where that cannot be (a node in a process
// of its own that joined the devnet would not follow), it says why, and
// the devnet must stop first.

// Errors of snapshots, for errors.Is.
var (
	ErrSnapshotName   = errors.New("a snapshot name is 1-64 characters of a-z, 0-9, '_' and '-'")
	ErrNoSnapshot     = errors.New("no such snapshot")
	ErrSnapshotExists = errors.New("a snapshot of that name exists")
	// ErrMustStop is a load that a running devnet cannot take in place.
	ErrMustStop = errors.New("the running devnet cannot rewind in place")
)

var snapshotNameRE = lazyRegexp(`^[a-z0-9_-]{1,64}$`)

// notSaved are what a snapshot leaves out: the logs, the snapshots
// themselves, the lock and the manifest of a running devnet.
var notSaved = []string{"logs", "snapshots", filepath.Join("devnet", "lock"), "devnet.json"}

// Snapshot describes a saved snapshot.
type Snapshot struct {
	Name  string    `json:"name"`
	Saved time.Time `json:"saved"`
}

func snapshotDir(dir, name string) (string, error) {
	if !snapshotNameRE().MatchString(name) {
		return "", fmt.Errorf("%w: %q", ErrSnapshotName, name)
	}
	return filepath.Join(Dir(dir).SnapshotsDir(), name), nil
}

// SaveSnapshot copies the devnet under dir to the snapshot name: a
// stopped one file by file, a running one without stopping it (see
// above). An existing snapshot is kept unless replace.
func SaveSnapshot(ctx context.Context, dir, name string, replace bool) (running bool, err error) {
	dst, err := snapshotDir(dir, name)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(statePath(dir)); err != nil {
		return false, fmt.Errorf("%w under %s: nothing to save", ErrNotRunning, dir)
	}
	lock, err := lockDir(dir)
	switch {
	case errors.Is(err, ErrRunning):
		running = true
	case err != nil:
		return false, err
	default:
		defer lock.Close()
	}
	if _, err := os.Stat(dst); err == nil && !replace {
		return running, fmt.Errorf("%w: %q (--replace overwrites it)", ErrSnapshotExists, name)
	}
	tmp := dst + ".partial"
	os.RemoveAll(tmp)
	if err := copyTree(ctx, dir, tmp, running); err != nil {
		os.RemoveAll(tmp)
		return running, err
	}
	os.RemoveAll(dst)
	return running, os.Rename(tmp, dst)
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
	return copyTree(context.Background(), src, dir, false)
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
		if !e.IsDir() || !snapshotNameRE().MatchString(e.Name()) {
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
// (a symlink, a socket) is refused. Of a running devnet (live), each
// database is backed up online, its WAL and shared memory left out, and a
// file that went while it was walked (a temporary file renamed) is left
// out too.
func copyTree(ctx context.Context, src, dst string, live bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if live && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
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
		if live && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case live && (strings.HasSuffix(name, "-wal") || strings.HasSuffix(name, "-shm") || strings.HasSuffix(name, "-journal") || strings.HasPrefix(name, ".tmp-")):
			return nil // in the backup of its database; a file being written
		case live && strings.HasSuffix(name, ".db"):
			return sqlitedb.Backup(ctx, path, target)
		case info.Mode().IsRegular():
			err := copyFile(path, target, info.Mode().Perm())
			if live && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
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
	// Running: the devnet was running, and runs on (saved without
	// stopping, or rewound in place).
	Running bool `json:"running"`
}

// WriteText says what was done, and what to do next.
func (s SnapshotDone) WriteText(w io.Writer) error {
	var err error
	switch {
	case s.Saved != "" && s.Running:
		_, err = fmt.Fprintf(w, "saved snapshot %q of the running devnet, which runs on; 'sessionctl devnet snapshot load %s' rewinds to it\n", s.Saved, s.Saved)
	case s.Saved != "":
		_, err = fmt.Fprintf(w, "saved snapshot %q; 'sessionctl devnet snapshot load %s' rewinds to it\n", s.Saved, s.Saved)
	case s.Running:
		_, err = fmt.Fprintf(w, "rewound the running devnet to snapshot %q; it runs on from there\n", s.Loaded)
	default:
		_, err = fmt.Fprintf(w, "loaded snapshot %q; 'sessionctl devnet up' resumes the devnet as it was then\n", s.Loaded)
	}
	return err
}

// SnapshotCommand runs 'devnet snapshot save|load NAME' on dir, running
// or stopped.
func SnapshotCommand(ctx context.Context, dir, verb, name string, replace bool) (SnapshotDone, error) {
	switch verb {
	case "save":
		running, err := SaveSnapshot(ctx, dir, name, replace)
		return SnapshotDone{Saved: name, Running: running}, err
	case "load":
		if _, err := snapshotDir(dir, name); err != nil {
			return SnapshotDone{}, err
		}
		if !Locked(dir) {
			return SnapshotDone{Loaded: name}, LoadSnapshot(dir, name)
		}
		cc, err := Dir(dir).Dial(ctx)
		if err != nil {
			return SnapshotDone{}, err
		}
		return SnapshotDone{Loaded: name, Running: true}, cc.Rewind(ctx, name)
	}
	return SnapshotDone{}, fmt.Errorf("snapshot %q: want save or load", verb)
}
