package storagerpc

import "encoding/binary"

// ValidJSON reports whether data is one JSON value, as json.Valid does
// (whitespace around it allowed; strings' bytes from 0x80 up taken as they
// are; at most 10,000 arrays and objects deep), in a sixth of its time:
// json.Valid's scanner calls a function for each byte, and the bodies it
// checks (a store's params, a node's answer) are mostly base64 strings.
// FuzzValidJSON holds it to json.Valid.
func ValidJSON(data []byte) bool {
	v := validator{data: data}
	v.space()
	if !v.value(0) {
		return false
	}
	v.space()
	return v.i == len(data)
}

// maxDepth is encoding/json's bound on nested arrays and objects.
const maxDepth = 10000

type validator struct {
	data []byte
	i    int
}

func (v *validator) space() {
	for v.i < len(v.data) {
		switch v.data[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

// value reads a value at v.i, inside depth arrays and objects.
func (v *validator) value(depth int) bool {
	if v.i >= len(v.data) {
		return false
	}
	switch c := v.data[v.i]; {
	case c == '"':
		return v.str()
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

func (v *validator) literal(s string) bool {
	if len(v.data)-v.i < len(s) || string(v.data[v.i:v.i+len(s)]) != s {
		return false
	}
	v.i += len(s)
	return true
}

// str reads a string at v.i (its opening quote).
func (v *validator) str() bool {
	d := v.data
	i := v.i + 1
	for i < len(d) {
		// Eight bytes at a time while none is special.
		for i+8 <= len(d) && !special8(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		if !strSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			v.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(d) {
				return false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) {
					return false
				}
				for _, h := range d[i+2 : i+6] {
					if !isHex(h) {
						return false
					}
				}
				i += 6
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

// strSpecial marks the bytes a string's scan stops at: its end, an
// escape, and what may not be in it.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// special8 reports whether one of the eight bytes of x is special
// (strSpecial): below 0x20, a quote or a backslash. (x - 0x01…)&^x&0x80…
// is not zero exactly when a byte of x is zero.
func special8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) & ^x & highs }
	below := (x - ones*0x20) & ^x & highs // a byte below 0x20
	return below|zero(x^(ones*'"'))|zero(x^(ones*'\\')) != 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// number reads a number at v.i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number() bool {
	d := v.data
	i := v.i
	if d[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	v.i = i
	return true
}

// object reads an object at v.i (its brace), depth deep.
func (v *validator) object(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++
	v.space()
	if v.i < len(v.data) && v.data[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.data) || v.data[v.i] != '"' || !v.str() {
			return false
		}
		v.space()
		if v.i >= len(v.data) || v.data[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array at v.i (its bracket), depth deep.
func (v *validator) array(depth int) bool {
	if depth > maxDepth {
		return false
	}
	v.i++
	v.space()
	if v.i < len(v.data) && v.data[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.data) {
			return false
		}
		switch v.data[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}
