// Package logs writes a devnet's logs, a file per component under
// <dir>/logs, and reads them back as one stream in time order.
//
//	files, err := logs.Open(dir, logs.Options{Format: logs.JSON, Level: zerolog.InfoLevel})
//	log := files.Logger("ledger")      // ledger.log; node-3 writes to nodes.log
//	defer files.Close()
//
//	readers, err := logs.OpenAll(dir, logs.Select{})
//	err = logs.Merge(readers, func(l logs.Line) error { ... })
//
// Each file is in time order already, so reading merges them (a k-way
// merge), never sorts them: memory stays flat however long the logs are.
package logs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// The formats of a log: zerolog's console lines, or JSON objects.
const (
	Console = "console"
	JSON    = "json"
)

// TimeFormat is the time field's format in JSON lines: milliseconds, so that
// lines of different files order (zerolog.TimeFieldFormat).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// consoleTime is a console line's clock time.
const consoleTime = "15:04:05.000"

// formatFile, under the logs directory, remembers its format.
const formatFile = "format"

// CheckFormat refuses a format other than Console and JSON.
func CheckFormat(format string) error {
	if format != Console && format != JSON {
		return fmt.Errorf("%q: want console or json", format)
	}
	return nil
}

// New returns a logger writing to w in format, at level, with a timestamp.
func New(w io.Writer, format string, level zerolog.Level) zerolog.Logger {
	if format == Console {
		w = zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: consoleTime}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// SavedFormat is the format the logs under dir were written in, or def
// when none is recorded.
func SavedFormat(dir, def string) string {
	b, err := os.ReadFile(filepath.Join(dir, formatFile))
	if f := strings.TrimSpace(string(b)); err == nil && CheckFormat(f) == nil {
		return f
	}
	return def
}

// Options are how Open writes.
type Options struct {
	Format string        // Console (default) or JSON
	Level  zerolog.Level // the lowest level written
	// Tee, if set, receives every line too (the dashboard's log pane).
	Tee io.Writer
}

// Files are the log files of a directory, opened as components first log.
type Files struct {
	dir  string
	opts Options

	mu    sync.Mutex
	files map[string]*os.File // by file name, without .log
}

// Open makes dir (0700) and records the format there; files are opened as
// their components first log.
func Open(dir string, opts Options) (*Files, error) {
	if opts.Format == "" {
		opts.Format = Console
	}
	if err := CheckFormat(opts.Format); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, formatFile), []byte(opts.Format+"\n"), 0o600); err != nil {
		return nil, err
	}
	return &Files{dir: dir, opts: opts, files: map[string]*os.File{}}, nil
}

// FileOf is the file (without .log) a component writes to: the service
// nodes share nodes.log (each line names its node), as 2,000 nodes would
// otherwise hold 2,000 open files; the others have one each.
func FileOf(component string) string {
	if strings.HasPrefix(component, "node-") {
		return "nodes"
	}
	return component
}

// Logger returns the logger of a component, its lines marked
// component=NAME. A file that cannot be opened logs nothing.
func (f *Files) Logger(component string) zerolog.Logger {
	file, err := f.file(FileOf(component))
	if err != nil {
		return zerolog.Nop()
	}
	var w io.Writer = file
	if f.opts.Format == Console {
		w = zerolog.ConsoleWriter{Out: file, NoColor: true, TimeFormat: consoleTime}
	}
	if f.opts.Tee != nil {
		w = zerolog.MultiLevelWriter(w, f.opts.Tee)
	}
	return zerolog.New(w).Level(f.opts.Level).With().Timestamp().Str("component", component).Logger()
}

// Writer returns the file NAME.log for another writer of logs (libp2p's
// own, say), opened for appending.
func (f *Files) Writer(name string) (io.Writer, error) { return f.file(name) }

func (f *Files) file(name string) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if file, ok := f.files[name]; ok {
		return file, nil
	}
	file, err := os.OpenFile(filepath.Join(f.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	f.files[name] = file
	return file, nil
}

// Close closes every file opened.
func (f *Files) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for name, file := range f.files {
		if err := file.Close(); err != nil && first == nil {
			first = err
		}
		delete(f.files, name)
	}
	return first
}
