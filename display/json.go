package display

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/sessionctl/sessionctl/chain"
)

// JSON writes v as indented JSON, as --json prints it: every "swarm_id"
// as 16 hex digits (README, "Output").
func JSON(w io.Writer, v any) error {
	v, err := hexSwarmIDs(v)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// JSONLine writes v as one line of JSON (for streams such as fetch --follow).
func JSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

var numericSwarmID = regexp.MustCompile(`"swarm_id":[0-9]`)

// hexSwarmIDs rewrites every "swarm_id" of v's JSON as the CLI writes swarm
// IDs everywhere: 16 hex digits ("" for none), which any JSON reader keeps
// exact (a number above 2^53 is not, in JavaScript).
func hexSwarmIDs(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if !numericSwarmID.Match(data) {
		return v, nil // nothing to rewrite: keep v's own field order
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			for k, v := range t {
				if n, ok := v.(json.Number); ok && k == "swarm_id" {
					if id, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
						t[k] = ""
						if id != chain.UnassignedSwarm {
							t[k] = fmt.Sprintf("%016x", id)
						}
					}
					continue
				}
				walk(v)
			}
		case []any:
			for _, v := range t {
				walk(v)
			}
		}
	}
	walk(out)
	return out, nil
}
