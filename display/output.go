package display

import (
	"fmt"
	"io"
)

// Output is where a command's results go: text for a person on W (and
// notes, such as what was saved or skipped, on Err), or with JSON one JSON
// document on W.
type Output struct {
	W, Err io.Writer
	JSON   bool
}

// Show writes v as JSON, or calls text to write it for a person.
func (o Output) Show(v any, text func(w io.Writer) error) error {
	if o.JSON {
		return JSON(o.W, v)
	}
	return text(o.W)
}

// Printf writes text for a person on W.
func (o Output) Printf(format string, args ...any) error {
	_, err := fmt.Fprintf(o.W, format, args...)
	return err
}

// Notef writes a note on Err.
func (o Output) Notef(format string, args ...any) { fmt.Fprintf(o.Err, format, args...) }

// Note is Notef's line-at-a-time form, for what reports lines (a Saver).
func (o Output) Note(line string) { fmt.Fprintln(o.Err, line) }
