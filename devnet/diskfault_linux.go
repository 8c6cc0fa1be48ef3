package devnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Disk faults (package chaos's disk-full and read-only), for a node of
// this process: the node is stopped, its data directory copied onto a
// small ext4 file system of its own (a loop-mounted image under
// <dir>/chaos-disk) and that mounted over the directory, and the node
// started again on it; then the file system is filled to the last block,
// and the node keeps running on it; or the directory is mounted read-only
// over itself and the node started on it. The heal stops the node, copies
// what it wrote back, removes the image and starts the node again. It
// needs root, mount(8) with loop devices and mkfs.ext4 (DiskFaults says
// why not).

// diskFault is one node's disk fault in force.
type diskFault struct {
	img, mnt, data string
}

var diskProbe struct {
	once sync.Once
	why  string
}

// DiskFaults says whether disk faults can be made here: "" when they can,
// else why not. It tries once to mount an image.
func (nw *Network) DiskFaults() string {
	if nw.cfg.Exe != "" {
		return "the nodes run in their own processes"
	}
	diskProbe.once.Do(func() {
		if os.Geteuid() != 0 {
			diskProbe.why = "it needs root (to mount a file system image)"
			return
		}
		for _, prog := range []string{"mkfs.ext4", "mount", "umount"} {
			if _, err := exec.LookPath(prog); err != nil {
				diskProbe.why = prog + " is not installed"
				return
			}
		}
		dir, err := os.MkdirTemp("", "sessionctl-diskprobe")
		if err != nil {
			diskProbe.why = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		f := &diskFault{img: filepath.Join(dir, "probe.img"), mnt: filepath.Join(dir, "mnt")}
		if err := f.mount(context.Background(), 8); err != nil {
			diskProbe.why = "a loop-mounted image cannot be made here: " + err.Error()
			return
		}
		run(context.Background(), "umount", f.mnt)
	})
	return diskProbe.why
}

func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// mount makes the image (sizeMB) and mounts it at mnt.
func (f *diskFault) mount(ctx context.Context, sizeMB int) error {
	if err := os.MkdirAll(f.mnt, 0o700); err != nil {
		return err
	}
	img, err := os.OpenFile(f.img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = img.Truncate(int64(sizeMB) << 20)
	img.Close()
	if err != nil {
		return err
	}
	if err := run(ctx, "mkfs.ext4", "-q", "-F", "-m", "0", f.img); err != nil {
		return err
	}
	return run(ctx, "mount", "-o", "loop", f.img, f.mnt)
}

// DiskFault puts node i's data on a file system of its own and fills it,
// or (readOnly) runs the node on its data directory made read-only; heal
// undoes it.
func (nw *Network) DiskFault(ctx context.Context, i int, readOnly bool) (heal func(context.Context) error, err error) {
	if why := nw.DiskFaults(); why != "" {
		return nil, errors.New(why)
	}
	if i < 0 || i >= len(nw.keys) {
		return nil, fmt.Errorf("%w: %d", ErrUnknownNode, i)
	}
	if readOnly {
		return nw.readOnlyFault(ctx, i)
	}
	base := filepath.Join(nw.cfg.Dir, "chaos-disk")
	f := &diskFault{img: filepath.Join(base, NodeName(i)+".img"), mnt: filepath.Join(base, NodeName(i)+".mnt"), data: Dir(nw.cfg.Dir).NodeData(NodeName(i))}
	os.Remove(f.img) // a fault's leftovers (a devnet killed under one)
	nw.StopNode(i)   // (it may be stopped already)
	undo := func() {
		run(context.Background(), "umount", f.data)
		run(context.Background(), "umount", f.mnt)
		os.Remove(f.img)
	}
	if err := f.mount(ctx, diskImageMB); err != nil {
		undo()
		nw.restartNode(ctx, i)
		return nil, err
	}
	if err := copyDir(f.data, f.mnt); err != nil {
		undo()
		nw.restartNode(ctx, i)
		return nil, err
	}
	if err := run(ctx, "mount", "--bind", f.mnt, f.data); err != nil {
		undo()
		nw.restartNode(ctx, i)
		return nil, err
	}
	if err := nw.restartNode(ctx, i); err != nil {
		undo()
		nw.restartNode(ctx, i)
		return nil, err
	}
	err = fill(filepath.Join(f.mnt, "fill"))
	heal = func(ctx context.Context) error {
		nw.StopNode(i)
		var errs []error
		os.Remove(filepath.Join(f.mnt, "fill"))
		errs = append(errs, run(ctx, "umount", f.data))
		os.Remove(filepath.Join(f.mnt, "fill"))
		errs = append(errs, copyDir(f.mnt, f.data)) // what it wrote meanwhile
		errs = append(errs, run(ctx, "umount", f.mnt))
		os.Remove(f.img)
		os.Remove(f.mnt)
		errs = append(errs, nw.restartNode(ctx, i))
		return errors.Join(errs...)
	}
	if err != nil {
		heal(ctx)
		return nil, err
	}
	return heal, nil
}

// readOnlyFault restarts node i on its data directory mounted read-only
// over itself (a disk remounted read-only, as after an error): the node
// runs without writing, or cannot start at all, until the heal.
func (nw *Network) readOnlyFault(ctx context.Context, i int) (func(context.Context) error, error) {
	data := Dir(nw.cfg.Dir).NodeData(NodeName(i))
	nw.StopNode(i)
	if err := run(ctx, "mount", "--bind", data, data); err != nil {
		nw.restartNode(ctx, i)
		return nil, err
	}
	heal := func(ctx context.Context) error {
		nw.StopNode(i)
		return errors.Join(run(ctx, "umount", data), nw.restartNode(ctx, i))
	}
	if err := run(ctx, "mount", "-o", "remount,bind,ro", data); err != nil {
		heal(ctx)
		return nil, err
	}
	if err := nw.StartNode(ctx, i); err != nil {
		nw.log.Info().Err(err).Str("node", NodeName(i)).Msg("a node on a read-only data directory does not start")
	}
	return heal, nil
}

// fill writes path until the file system is full.
func fill(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n := 0; n < 1<<12; n++ { // at most 4 GiB: the image is far smaller
		if _, err := f.Write(buf); err != nil {
			f.Sync()
			return nil // full
		}
	}
	return errors.New("the file system did not fill")
}

// copyDir makes dst's regular files those of src (a node's data
// directory holds no subdirectories that matter).
func copyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	// What dst holds that src does not (a WAL the node has since folded
	// into its database) goes.
	if old, err := os.ReadDir(dst); err == nil {
		for _, e := range old {
			if _, err := os.Stat(filepath.Join(src, e.Name())); e.Type().IsRegular() && errors.Is(err, os.ErrNotExist) {
				os.Remove(filepath.Join(dst, e.Name()))
			}
		}
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "fill" {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), 0o600); err != nil {
			return err
		}
	}
	return nil
}
