package onion

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
)

// The routing JSON of the layers every request's path peels is written
// and read here by hand: a hop's {"ephemeral_key": hex, "enc_type": name}
// and, for a hop's next, "destination": hex; a destination's
// {"headers": "", "json": true, "base64": false}. encoding/json's
// reflection, its decoder's buffers and its encoder's were a tenth of the
// bytes a send allocated. Anything else (a server's host, a value not in
// this exact form) goes through encoding/json as before, and the fast
// paths are fuzzed against it (FuzzRoutingFast): they make and accept
// only what json.Marshal makes and the strict decoder accepts, with the
// same result.

// The fields written and read by hand, in the order json.Marshal writes
// them (the struct's).
const (
	fieldEphemeralKey = `"ephemeral_key":`
	fieldEncType      = `"enc_type":`
	fieldDestination  = `"destination":`
	fieldHeaders      = `"headers":`
	fieldJSON         = `"json":`
	fieldBase64       = `"base64":`
)

// appendRouting appends r as JSON, byte for byte what json.Marshal makes.
func appendRouting(dst []byte, r Routing) ([]byte, error) {
	if !handWritten(r) {
		return appendMarshal(dst, r)
	}
	dst = append(dst, '{')
	sep := false
	name := func(field string) {
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, field...)
	}
	str := func(field, v string) {
		name(field)
		dst = append(dst, '"')
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	flag := func(field string, v *bool) {
		if v == nil {
			return
		}
		name(field)
		if *v {
			dst = append(dst, "true"...)
		} else {
			dst = append(dst, "false"...)
		}
	}
	if r.EphemeralKey != "" {
		str(fieldEphemeralKey, r.EphemeralKey)
	}
	if r.EncType != "" {
		str(fieldEncType, string(r.EncType))
	}
	if r.Destination != "" {
		str(fieldDestination, r.Destination)
	}
	if r.Headers != nil {
		str(fieldHeaders, *r.Headers)
	}
	flag(fieldJSON, r.JSON)
	flag(fieldBase64, r.Base64)
	return append(dst, '}'), nil
}

// appendHopRouting appends a hop's routing, {"ephemeral_key": hex of eph,
// "enc_type": t, "destination": dest} (no destination when it is ""), as
// appendRouting does, writing the key's hex in place.
func appendHopRouting(dst []byte, eph [32]byte, t EncType, dest string) ([]byte, error) {
	if !plain(string(t)) || !plain(dest) {
		return appendRouting(dst, Routing{EphemeralKey: hex.EncodeToString(eph[:]), EncType: t, Destination: dest})
	}
	dst = append(dst, '{')
	dst = append(dst, fieldEphemeralKey...)
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, eph[:])
	dst = append(dst, '"')
	if t != "" {
		dst = append(dst, ',')
		dst = append(dst, fieldEncType...)
		dst = append(dst, '"')
		dst = append(dst, t...)
		dst = append(dst, '"')
	}
	if dest != "" {
		dst = append(dst, ',')
		dst = append(dst, fieldDestination...)
		dst = append(dst, '"')
		dst = append(dst, dest...)
		dst = append(dst, '"')
	}
	return append(dst, '}'), nil
}

// appendMarshal appends r as json.Marshal writes it. Not inlined: r goes
// to the heap for json.Marshal, and would for every appendRouting.
//
//go:noinline
func appendMarshal(dst []byte, r Routing) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(dst, js...), nil
}

// handWritten reports whether r has no fields but a hop's and a
// destination's, each string plain.
func handWritten(r Routing) bool {
	return r.Host == "" && r.Target == "" && r.Port == 0 && r.Protocol == "" && r.Method == "" && r.HopNo == 0 &&
		plain(r.EphemeralKey) && plain(string(r.EncType)) && plain(r.Destination) && (r.Headers == nil || plain(*r.Headers))
}

// plain reports whether s is written in a JSON string as it is, by
// json.Marshal and read so by the decoder: printable ASCII but for the
// quote, the backslash and what json.Marshal escapes for HTML (<, >, &).
func plain[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// rawRouting is the routing JSON read by hand, its strings not yet copied
// out of the layer: nil for a field not there.
type rawRouting struct {
	ephemeralKey, encType, destination, headers []byte
	json, base64                                *bool
}

// parseRaw reads js if it is an object of the hand-written fields, in
// json.Marshal's order, each at most once, strings plain and flags true or
// false, nothing else and nothing before or after; ok is false for
// anything else, which the caller reads with encoding/json.
func parseRaw(js []byte) (r rawRouting, ok bool) {
	rest, ok := bytes.CutPrefix(js, []byte{'{'})
	if !ok {
		return r, false
	}
	first := true
	field := func(name string) bool {
		sep := rest
		if !first {
			if len(sep) == 0 || sep[0] != ',' {
				return false
			}
			sep = sep[1:]
		}
		v, ok := bytes.CutPrefix(sep, []byte(name))
		if ok {
			rest, first = v, false
		}
		return ok
	}
	str := func(dst *[]byte) bool {
		if len(rest) == 0 || rest[0] != '"' {
			return false
		}
		i := bytes.IndexByte(rest[1:], '"')
		if i < 0 || !plain(rest[1:1+i]) {
			return false
		}
		*dst, rest = rest[1:1+i:1+i], rest[2+i:]
		return true
	}
	flag := func(dst **bool) bool {
		switch {
		case bytes.HasPrefix(rest, []byte("true")):
			*dst, rest = &yes, rest[4:]
		case bytes.HasPrefix(rest, []byte("false")):
			*dst, rest = &no, rest[5:]
		default:
			return false
		}
		return true
	}
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{fieldEphemeralKey, &r.ephemeralKey}, {fieldEncType, &r.encType}, {fieldDestination, &r.destination}, {fieldHeaders, &r.headers}} {
		if field(f.name) && !str(f.dst) {
			return r, false
		}
	}
	if field(fieldJSON) && !flag(&r.json) {
		return r, false
	}
	if field(fieldBase64) && !flag(&r.base64) {
		return r, false
	}
	return r, len(rest) == 1 && rest[0] == '}'
}

// yes and no are the flags parseRaw reads: shared, never written through.
var yes, no = true, false

// noHeaders is the "headers" of a destination's layer: empty.
var noHeaders = ""

// routing is r with its strings copied out of the layer (the encryption
// types and empty headers without a copy).
func (r *rawRouting) routing() Routing {
	out := Routing{EphemeralKey: string(r.ephemeralKey), EncType: encType(r.encType), Destination: string(r.destination), JSON: r.json, Base64: r.base64}
	switch {
	case r.headers == nil:
	case len(r.headers) == 0:
		out.Headers = &noHeaders
	default:
		h := string(r.headers)
		out.Headers = &h
	}
	return out
}

// encType is the encryption named b: the constants without a copy.
func encType(b []byte) EncType {
	switch string(b) {
	case string(XChaCha20):
		return XChaCha20
	case string(AESGCM):
		return AESGCM
	}
	return EncType(b)
}

// parseRouting reads js as parseRaw does, into a Routing.
func parseRouting(js []byte) (Routing, bool) {
	raw, ok := parseRaw(js)
	if !ok {
		return Routing{}, false
	}
	return raw.routing(), true
}
