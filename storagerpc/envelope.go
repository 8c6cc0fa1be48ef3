package storagerpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The answers' envelopes, {"code":N,"body":...} (Response.AppendJSON) and
// an onion destination's {"status":N,"body":...}, are read by hand when
// they are exactly as written, the body left where it is in the answer
// rather than copied out by encoding/json after a scan of the whole;
// anything else goes through encoding/json as before (FuzzEnvelope holds
// the two to the same result).

// plainEnvelope reads {"<key>":N,"body":B} with nothing around, N an
// integer as JSON writes one, B one JSON value with no space around it.
// body is a slice of data.
func plainEnvelope(data []byte, key string) (code int, body []byte, ok bool) {
	if len(data) < len(key)+12 || data[0] != '{' || data[1] != '"' || string(data[2:2+len(key)]) != key ||
		data[2+len(key)] != '"' || data[3+len(key)] != ':' {
		return 0, nil, false
	}
	rest := data[4+len(key):]
	n := bytes.IndexByte(rest, ',')
	if n < 1 {
		return 0, nil, false
	}
	num := rest[:n]
	digits := num
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, nil, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	code, err := strconv.Atoi(string(num))
	if err != nil {
		return 0, nil, false
	}
	body, ok = bytes.CutPrefix(rest[n:], []byte(`,"body":`))
	if !ok || len(body) < 2 || body[len(body)-1] != '}' {
		return 0, nil, false
	}
	body = body[:len(body)-1]
	if space(body[0]) || space(body[len(body)-1]) || !ValidJSON(body) {
		return 0, nil, false
	}
	return code, body, true
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// decodeResponse reads a node's answer; its Body is a slice of data.
func decodeResponse(data []byte) (Response, error) {
	if code, body, ok := plainEnvelope(data, "code"); ok {
		return Response{Code: code, Body: body}, nil
	}
	var r Response
	err := json.Unmarshal(data, &r)
	return r, err
}

// DecodeOnionAnswer reads what the destination of an onion request
// answered, {"status": code, "body": ...}; its Body is a slice of data.
func DecodeOnionAnswer(data []byte) (OnionAnswer, error) {
	if code, body, ok := plainEnvelope(data, "status"); ok {
		return OnionAnswer{Status: code, Body: body}, nil
	}
	var a OnionAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return a, nil
}
