package onion

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/sessionctl/sessionctl/internal/streampool"
)

// Protocol is the libp2p protocol of onion hops (SPEC 10).
const Protocol protocol.ID = "/sessionctl/onion/1.0.0"

// ProtocolFramed carries the same requests and answers framed (package
// streampool), one after another on a stream kept open: a request frame
// holds [u8 hop][layer], its answer frame [u16 status][body]. A node
// speaks both; a sender whose host has a stream pool uses this one where
// the next hop has it.
const ProtocolFramed protocol.ID = "/sessionctl/onion/2.0.0"

// On a stream of Protocol the sender writes [u8 hop][layer] and closes its
// side; hop is 1 at the guard and each node adds one when it forwards. The
// receiver answers [u16 big-endian status][body]: 200 and the destination's
// sealed reply, passed back unchanged, or an error status and a short text
// from the hop that failed.

// Status codes a hop answers with.
const (
	StatusOK         = 200
	StatusBadRequest = 400 // the layer is malformed, does not decrypt, loops or has too many hops
	StatusForbidden  = 403 // the exit does not forward to that server
	StatusTooLarge   = 413
	StatusBadGateway = 502 // the next hop is unknown or did not answer
	StatusTimeout    = 504
)

// ReadRequest reads [u8 hop][layer] from r.
func ReadRequest(r io.Reader) (hop int, layer []byte, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxLayerSize+2))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > MaxLayerSize+1 {
		return 0, nil, fmt.Errorf("%w: over %d bytes", ErrFormat, MaxLayerSize)
	}
	if len(data) < 1 {
		return 0, nil, fmt.Errorf("%w: empty request", ErrFormat)
	}
	return int(data[0]), data[1:], nil
}

// WriteResponse writes [u16 status][body].
func WriteResponse(w io.Writer, status int, body []byte) error {
	var h [2]byte
	binary.BigEndian.PutUint16(h[:], uint16(status))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// Send sends layer to p as hop number hop and returns the answer.
func Send(ctx context.Context, h host.Host, p peer.ID, hop int, layer []byte) (status int, body []byte, err error) {
	if hop < 1 || hop > MaxHops {
		return 0, nil, fmt.Errorf("onion: hop %d out of 1..%d", hop, MaxHops)
	}
	return SendRaw(ctx, h, p, byte(hop), layer)
}

// maxAnswer bounds an onion answer a sender reads.
const maxAnswer = MaxLayerSize + 16<<20

// SendRaw is Send without checks on hop, for tests of how nodes refuse.
func SendRaw(ctx context.Context, h host.Host, p peer.ID, hop byte, layer []byte) (status int, body []byte, err error) {
	status, body, _, err = sendRaw(ctx, h, p, hop, layer, false)
	return status, body, err
}

// SendPooled is Send whose answer's body may be in a buffer of h's stream
// pool (streampool.Host): release (never nil) gives it back, once nothing
// uses body any more (a relay's answer, written on as soon as it is read).
func SendPooled(ctx context.Context, h host.Host, p peer.ID, hop int, layer []byte) (status int, body []byte, release func(), err error) {
	if hop < 1 || hop > MaxHops {
		return 0, nil, noRelease, fmt.Errorf("onion: hop %d out of 1..%d", hop, MaxHops)
	}
	status, body, box, err := sendRaw(ctx, h, p, byte(hop), layer, true)
	if box == nil {
		return status, body, noRelease, err
	}
	return status, body, func() { streampool.Release(box) }, err
}

func noRelease() {}

// sendRaw is SendRaw, its answer pooled when pooled (box: its buffer, or nil).
func sendRaw(ctx context.Context, h host.Host, p peer.ID, hop byte, layer []byte, pooled bool) (status int, body []byte, box *[]byte, err error) {
	if ph, ok := h.(streampool.Host); ok {
		oneShot := func(s network.Stream) ([]byte, error) { return sendOn(s, p, hop, layer) }
		var data []byte
		if pooled {
			data, box, err = ph.StreamPool().RoundTripHeadPooled(ctx, p, ProtocolFramed, Protocol, []byte{hop}, layer, maxAnswer, oneShot)
		} else {
			data, err = ph.StreamPool().RoundTripHead(ctx, p, ProtocolFramed, Protocol, []byte{hop}, layer, maxAnswer, oneShot)
		}
		if err != nil {
			return 0, nil, nil, fmt.Errorf("onion: %w", err)
		}
		status, body, err = answer(data, p)
		if err != nil {
			streampool.Release(box)
			return 0, nil, nil, err
		}
		return status, body, box, nil
	}
	s, err := h.NewStream(ctx, p, Protocol)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("open onion stream to %s: %w", p.ShortString(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	} else {
		s.SetDeadline(time.Now().Add(60 * time.Second))
	}
	data, err := sendOn(s, p, hop, layer)
	if err != nil {
		return 0, nil, nil, err
	}
	status, body, err = answer(data, p)
	return status, body, nil, err
}

// answer reads [u16 status][body].
func answer(data []byte, p peer.ID) (int, []byte, error) {
	if len(data) < 2 {
		return 0, nil, fmt.Errorf("%w: answer of %d bytes from %s", ErrFormat, len(data), p.ShortString())
	}
	return int(binary.BigEndian.Uint16(data)), data[2:], nil
}

// sendOn writes [hop][layer] on a stream of Protocol, closes its side and
// reads the answer to the end; the stream is closed or reset.
func sendOn(s network.Stream, p peer.ID, hop byte, layer []byte) ([]byte, error) {
	var err error
	if _, err = s.Write([]byte{hop}); err == nil {
		_, err = s.Write(layer)
	}
	if err == nil {
		err = s.CloseWrite()
	}
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("send onion request to %s: %w", p.ShortString(), err)
	}
	data, err := io.ReadAll(io.LimitReader(s, maxAnswer))
	if err != nil {
		s.Reset()
		return nil, fmt.Errorf("read onion answer from %s: %w", p.ShortString(), err)
	}
	s.Close()
	return data, nil
}
