package storagerpc

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValidJSON: ValidJSON says what json.Valid says.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{
		``, ` `, `{}`, ` {"a":1} `, `{"method":"store","params":{"pubkey":"05ab","data":"aGk=","ttl":100}}`,
		`[1,-0,0.5,1e5,1E+5,-1.0e-3]`, `01`, `1.`, `-`, `.5`, `1e`, `"\u00e9\n\"\\\/\b\f\r\t"`, `"\u12g4"`, `"\x"`,
		"\"\x01\"", "\"\xff\xfe\"", `true`, `tru`, `nul`, `false `, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `[}`,
		`{"a":[{"b":null}]}`, `"a"b`, `{},"method":"x"`, strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := ValidJSON(data), json.Valid(data); got != want {
			t.Fatalf("ValidJSON(%q) = %v, json.Valid %v", data, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	data := []byte(`{"pubkey":"05` + strings.Repeat("ab", 32) + `","timestamp":1700000000000,"ttl":1209600000,"data":"` +
		strings.Repeat("QUJD", 150) + `","namespace":0,"signature":"` + strings.Repeat("c2ln", 22) + `"}`)
	b.Run("ValidJSON", func(b *testing.B) {
		for b.Loop() {
			ValidJSON(data)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for b.Loop() {
			json.Valid(data)
		}
	})
}

// TestValidJSONBytes: every byte at every place of a string's eight-byte
// words (special8) is taken or refused as json.Valid does.
func TestValidJSONBytes(t *testing.T) {
	for c := range 256 {
		for at := range 17 {
			s := []byte(`"` + strings.Repeat("a", 17) + `"`)
			s[1+at] = byte(c)
			if got, want := ValidJSON(s), json.Valid(s); got != want {
				t.Fatalf("ValidJSON(%q) = %v, json.Valid %v", s, got, want)
			}
		}
	}
}
