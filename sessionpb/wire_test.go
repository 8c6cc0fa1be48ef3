package sessionpb

import (
	"bytes"
	"encoding/hex"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestWrapBytes: the stored bytes of a message, worked out by hand from the
// upstream field numbers (WebSocketResources.proto: WebSocketMessage type 1,
// request 2; WebSocketRequestMessage verb 1, path 2, body 3;
// libsession-util proto/SessionProtos.proto: Envelope type 1, timestamp 5,
// content 8; SESSION_MESSAGE = 6, REQUEST = 1), so a wrong number or wire
// type in session.proto fails here.
func TestWrapBytes(t *testing.T) {
	got, err := Wrap([]byte{1}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("0801" + "1220" + // type REQUEST; request, 32 bytes
		"0a03505554" + // verb "PUT"
		"120f2f6170692f76312f6d657373616765" + // path "/api/v1/message"
		"1a08" + "0806" + "28e807" + "420101") // body: envelope {type 6, timestamp 1000, content 01}
	if !bytes.Equal(got, want) {
		t.Fatalf("Wrap:\n got %x\nwant %x", got, want)
	}
	env, err := Unwrap(got)
	if err != nil || env.GetTimestamp() != 1000 || !bytes.Equal(env.Content, []byte{1}) {
		t.Fatalf("Unwrap: %v %v", env, err)
	}
	// An AttachmentPointer's id is fixed64 (wire type 1), its url field 101.
	b, _ := proto.Marshal(&AttachmentPointer{Id: proto.Uint64(1), Url: proto.String("u")})
	if want := "09" + "0100000000000000" + "aa0601" + "75"; hex.EncodeToString(b) != want {
		t.Fatalf("AttachmentPointer %x, want %s", b, want)
	}
	// DataMessage.syncTarget is field 105 (a string), body 1.
	b, _ = proto.Marshal(&DataMessage{Body: proto.String("hi"), SyncTarget: proto.String("05")})
	if want := "0a026869" + "ca06023035"; hex.EncodeToString(b) != want {
		t.Fatalf("DataMessage %x, want %s", b, want)
	}
}

// TestPad: session-desktop's addMessagePadding (ts/session/crypto/
// BufferPadding.ts): 0x80, then zeros, to ceil((n+2)/160)*160 - 1 bytes.
func TestPad(t *testing.T) {
	for n, want := range map[int]int{0: 159, 1: 159, 158: 159, 159: 319, 300: 319, 318: 319, 319: 479} {
		p := Pad(bytes.Repeat([]byte{7}, n))
		if len(p) != want || p[n] != 0x80 || !bytes.Equal(p[n+1:], make([]byte, want-n-1)) {
			t.Errorf("Pad(%d bytes): %d bytes, want %d", n, len(p), want)
		}
		if got := Unpad(p); len(got) != n {
			t.Errorf("Unpad(Pad(%d bytes)): %d bytes", n, len(got))
		}
	}
	if got := Unpad([]byte{1, 2, 3}); len(got) != 3 {
		t.Fatal("Unpad cut bytes with no padding")
	}
}

func FuzzUnwrap(f *testing.F) {
	w, _ := Wrap([]byte("sealed"), 5)
	f.Add(w)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Unwrap(data)
		if err == nil && len(env.Content) == 0 {
			t.Fatal("an envelope with no content was accepted")
		}
		Unpad(data)
	})
}
