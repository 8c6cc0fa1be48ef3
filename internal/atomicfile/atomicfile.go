// Package atomicfile writes files so that readers see the old content or
// the new, never half of it: through a synced temporary file in the same
// directory, then a rename (Write) or a link that fails if the file exists
// (Create, for keys that must never be overwritten).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, with the given mode, creating the
// directory (0700) if needed.
func Write(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, true)
}

// WriteUnsynced is Write without the sync: readers still see the old
// content or the new, but a crash of the machine may leave the file empty.
// For files that do not outlive their writer (a running devnet's manifest,
// which the next start removes), where a sync would only be waited for.
func WriteUnsynced(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode os.FileMode, sync bool) error {
	tmp, err := temp(path, data, mode, sync)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// Create writes data to path only if path does not exist; otherwise it
// fails with an error for which errors.Is(err, fs.ErrExist) holds.
func Create(path string, data []byte, mode os.FileMode) error {
	tmp, err := temp(path, data, mode, true)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Link(tmp, path)
}

func temp(path string, data []byte, mode os.FileMode, sync bool) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
