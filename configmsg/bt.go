package configmsg

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// bt-encoding (bencoding, as libsession's oxenc writes it) of the values a
// config message is made of. A value is one of:
//
//	int64           i<decimal>e
//	string          <length>:<bytes>   (any bytes; Go strings hold them)
//	[]any           l<values>e
//	Dict            d<key><value>...e  (keys sorted bytewise, no repeats)
//
// The decoder takes only canonical input (sorted keys, no leading zeros,
// no "-0") so that a decoded value encodes back to the same bytes, which
// keeps a message's hash stable.

// Dict is a bt dict.
type Dict = map[string]any

// maxDepth bounds how deeply lists and dicts nest in decoded input.
const maxDepth = 32

// ErrSyntax is input that is not canonical bt-encoding.
var ErrSyntax = errors.New("configmsg: malformed bt-encoding")

// Encode bt-encodes v.
func Encode(v any) []byte { return appendValue(nil, v) }

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		b = append(b, 'i')
		b = strconv.AppendInt(b, x, 10)
		return append(b, 'e')
	case int:
		return appendValue(b, int64(x))
	case string:
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...)
	case []byte:
		return appendValue(b, string(x))
	case []any:
		b = append(b, 'l')
		for _, e := range x {
			b = appendValue(b, e)
		}
		return append(b, 'e')
	case Dict:
		b = append(b, 'd')
		for _, k := range sortedKeys(x) {
			b = appendValue(b, k)
			b = appendValue(b, x[k])
		}
		return append(b, 'e')
	default:
		panic(fmt.Sprintf("configmsg: cannot bt-encode %T", v))
	}
}

func sortedKeys(d Dict) []string {
	ks := make([]string, 0, len(d))
	for k := range d {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Decode decodes one bt value that must span all of b.
func Decode(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the value", ErrSyntax, len(b)-d.i)
	}
	return v, nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, d.i, fmt.Sprintf(format, args...))
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errf("nested more than %d deep", maxDepth)
	}
	if d.i >= len(d.b) {
		return nil, d.errf("the input ends early")
	}
	switch c := d.b[d.i]; {
	case c == 'i':
		return d.integer()
	case c >= '0' && c <= '9':
		return d.str()
	case c == 'l':
		d.i++
		l := []any{}
		for {
			if d.i >= len(d.b) {
				return nil, d.errf("a list does not end")
			}
			if d.b[d.i] == 'e' {
				d.i++
				return l, nil
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
	case c == 'd':
		d.i++
		m := Dict{}
		last, first := "", true
		for {
			if d.i >= len(d.b) {
				return nil, d.errf("a dict does not end")
			}
			if d.b[d.i] == 'e' {
				d.i++
				return m, nil
			}
			if c := d.b[d.i]; c < '0' || c > '9' {
				return nil, d.errf("a dict key is not a string")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			if !first && k <= last {
				return nil, d.errf("dict key %q is out of order", k)
			}
			first, last = false, k
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	default:
		return nil, d.errf("unexpected byte %q", c)
	}
}

func (d *decoder) integer() (int64, error) {
	start := d.i + 1
	end := start
	for end < len(d.b) && d.b[end] != 'e' {
		end++
	}
	if end >= len(d.b) {
		return 0, d.errf("an integer does not end")
	}
	s := string(d.b[start:end])
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, d.errf("integer %q is not canonical", truncate(s))
	}
	d.i = end + 1
	return n, nil
}

func (d *decoder) str() (string, error) {
	colon := d.i
	for colon < len(d.b) && colon-d.i <= 10 && d.b[colon] != ':' {
		colon++
	}
	if colon >= len(d.b) || d.b[colon] != ':' {
		return "", d.errf("a string length does not end")
	}
	s := string(d.b[d.i:colon])
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return "", d.errf("string length %q is not canonical", truncate(s))
	}
	if n > uint64(len(d.b)-colon-1) {
		return "", d.errf("a string of %d bytes runs past the input", n)
	}
	d.i = colon + 1 + int(n)
	return string(d.b[colon+1 : d.i]), nil
}

func truncate(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}
