// Package sessionpb holds Session's messages as real clients put them on the
// wire (SPEC 6): the protobuf Content a sender pads and seals, the Envelope
// around the sealed bytes, and the WebSocketMessage a swarm stores.
//
//	plain  := Pad(proto.Marshal(content))            // 0x80, zeros, 160n-1 bytes
//	sealed := client.Encrypt(sender, recipient, plain) // SPEC 6
//	stored := Wrap(sealed, sentAt)                    // base64 of this in store
//
// session.pb.go is generated from session.proto (generate.go says how).
package sessionpb

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// paddingBlock is the unit message plaintexts are padded to.
const paddingBlock = 160

// Pad appends 0x80 and zeros so that the result is one byte short of a
// multiple of 160 (the sealed box adds no block of its own; the clients'
// "minus one" is kept as they have it).
func Pad(b []byte) []byte {
	n := ((len(b)+2+paddingBlock-1)/paddingBlock)*paddingBlock - 1
	out := make([]byte, n)
	copy(out, b)
	out[len(b)] = 0x80
	return out
}

// Unpad removes Pad's padding: trailing zeros and the 0x80 before them.
// Bytes without that padding are returned as they are (as the clients read
// them).
func Unpad(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case 0:
			continue
		case 0x80:
			return b[:i]
		}
		return b
	}
	return b
}

// MessagePath is the path of the stored WebSocket request.
const MessagePath = "/api/v1/message"

// Wrap puts sealed content in an Envelope (SESSION_MESSAGE, timestamp in
// unix ms) inside a WebSocketMessage request (PUT /api/v1/message): the
// bytes a swarm stores for a one-to-one message.
func Wrap(sealed []byte, timestamp uint64) ([]byte, error) {
	env, err := proto.Marshal(&Envelope{Type: Envelope_SESSION_MESSAGE.Enum(), Timestamp: proto.Uint64(timestamp), Content: sealed})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&WebSocketMessage{Type: WebSocketMessage_REQUEST.Enum(),
		Request: &WebSocketRequestMessage{Verb: proto.String("PUT"), Path: proto.String(MessagePath), Body: env}})
}

// ErrNotMessage is stored data that is not a WebSocket request carrying a
// Session message envelope.
var ErrNotMessage = errors.New("not a Session message envelope")

// Unwrap reads what Wrap wrote: the envelope (its content is the sealed
// bytes). A bare Envelope is accepted too.
func Unwrap(data []byte) (*Envelope, error) {
	var ws WebSocketMessage
	body := data
	if err := proto.Unmarshal(data, &ws); err == nil && ws.GetType() == WebSocketMessage_REQUEST && ws.Request != nil {
		body = ws.Request.GetBody()
	}
	var env Envelope
	if err := proto.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotMessage, err)
	}
	if env.GetType() != Envelope_SESSION_MESSAGE || len(env.Content) == 0 {
		return nil, fmt.Errorf("%w: envelope type %v, %d content bytes", ErrNotMessage, env.GetType(), len(env.Content))
	}
	return &env, nil
}
