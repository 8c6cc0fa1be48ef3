package onion

import (
	"bytes"
	"encoding/json"
)

// The routing JSON of the layers every hop peels, {"ephemeral_key": hex,
// "enc_type": name} and, for a hop's next, "destination": hex, is written
// and read here by hand: encoding/json's reflection, its decoder's buffers
// and its encoder's were a tenth of the bytes a send allocated. Anything
// else (a destination's headers, a server's host, a key not in this exact
// form) goes through encoding/json as before, and the fast paths are
// fuzzed against it (FuzzRoutingFast): they make and accept only what
// json.Marshal makes and the strict decoder accepts, with the same result.

// appendRouting appends r as JSON, byte for byte what json.Marshal makes.
func appendRouting(dst []byte, r Routing) ([]byte, error) {
	if !hopOnly(r) {
		js, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		return append(dst, js...), nil
	}
	dst = append(dst, '{')
	sep := false
	field := func(name, v string) {
		if v == "" {
			return
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":"`...)
		dst = append(dst, v...)
		dst = append(dst, '"')
	}
	field("ephemeral_key", r.EphemeralKey)
	field("enc_type", string(r.EncType))
	field("destination", r.Destination)
	return append(dst, '}'), nil
}

// hopOnly reports whether r has no fields but a hop's, each plain.
func hopOnly(r Routing) bool {
	return r.Headers == nil && r.Host == "" && r.Target == "" && r.Port == 0 && r.Protocol == "" &&
		r.Method == "" && r.JSON == nil && r.Base64 == nil && r.HopNo == 0 &&
		plain(r.EphemeralKey) && plain(string(r.EncType)) && plain(r.Destination)
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

// parseRouting reads js if it is exactly {"ephemeral_key":"…","enc_type":"…"}
// with an optional ,"destination":"…" before the brace, each value plain,
// nothing before or after; ok is false for anything else, which the caller
// reads with encoding/json.
func parseRouting(js []byte) (r Routing, ok bool) {
	rest, key, ok := stringField(js, `{"ephemeral_key":"`)
	if !ok {
		return r, false
	}
	rest, enc, ok := stringField(rest, `,"enc_type":"`)
	if !ok {
		return r, false
	}
	r.EphemeralKey, r.EncType = string(key), EncType(enc)
	if dest, ok := bytes.CutPrefix(rest, []byte(`,"destination":"`)); ok {
		i := bytes.IndexByte(dest, '"')
		if i < 0 || !plain(dest[:i]) {
			return r, false
		}
		r.Destination, rest = string(dest[:i]), dest[i+1:]
	}
	return r, len(rest) == 1 && rest[0] == '}'
}

// stringField reads prefix, then a plain string to its closing quote.
func stringField(js []byte, prefix string) (rest, value []byte, ok bool) {
	v, ok := bytes.CutPrefix(js, []byte(prefix))
	if !ok {
		return nil, nil, false
	}
	i := bytes.IndexByte(v, '"')
	if i < 0 || !plain(v[:i]) {
		return nil, nil, false
	}
	return v[i+1:], v[:i], true
}
