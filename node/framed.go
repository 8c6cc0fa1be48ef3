package node

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The framed protocols (storagerpc.ProtocolStorageFramed and
// ProtocolSwarmFramed, onion.ProtocolFramed): the requests of the 1.0.0
// protocols, framed (package streampool), one after another on a stream
// kept open. Each request goes through the request path as one on a stream
// of its own does (request.go): its own deadline, admit, its turn; a
// refusal is its answer, and the stream goes on. The stream ends when the
// peer closes it, after streampool.ServerIdle without a request, on a
// frame over the protocol's limit, or on any error of the stream.
//
// The node's own requests to other nodes go out the same way: outHost has
// a stream pool, which storagerpc.RoundTrip and onion.Send use.

// framed makes a handler of a framed protocol: one answers each request,
// read from r (the frame's bytes, at most limit), with the frame made of
// head then body, and release (never nil) is called once it is written.
// Each request's context ends margin before its deadline (Node.deadline),
// which bounds reading its body and writing its answer.
func (n *Node) framed(name string, limit int, margin time.Duration, one func(ctx context.Context, from clientKey, r io.Reader) (head, body []byte, release func())) network.StreamHandler {
	return n.serveStream(name, func(s network.Stream) {
		from := peerClient(s.Conn().RemotePeer())
		var wdl time.Time // the write deadline set last
		for {
			// Waiting for a request is reading (the write deadline,
			// the last request's, is set anew with the next one).
			s.SetReadDeadline(time.Now().Add(streampool.ServerIdle))
			size, err := streampool.ReadFrameLen(s, limit)
			if err != nil {
				if errors.Is(err, io.EOF) {
					s.Close() // the peer is done with it
				} else {
					s.Reset()
				}
				return
			}
			// The request's deadline: reading its body by then, and
			// writing its answer by then or up to
			// streampool.DeadlineSlack later, as the last request's
			// write deadline is when within that (requests one after
			// another on a stream then set one deadline each, not two).
			ctx, cancel, at := n.deadline(margin)
			s.SetReadDeadline(at)
			if wdl.Before(at) || wdl.After(at.Add(streampool.DeadlineSlack)) {
				wdl = at.Add(streampool.DeadlineSlack)
				s.SetWriteDeadline(wdl)
			}
			r := &io.LimitedReader{R: s, N: int64(size)}
			head, answer, release := one(ctx, from, r)
			cancel()
			// What a refused request left unread is read past, so the
			// next frame starts where it should.
			if _, err := io.Copy(io.Discard, r); err != nil || r.N > 0 {
				release()
				s.Reset()
				return
			}
			err = streampool.WriteFrame(s, head, answer)
			release()
			if err != nil {
				s.Reset()
				return
			}
		}
	})
}

// storageFramed answers one request of ProtocolStorageFramed.
func (n *Node) storageFramed(ctx context.Context, from clientKey, r io.Reader) (head, body []byte, release func()) {
	ctx, req, done, rerr := n.admit(ctx, from, true, r, storagerpc.MaxRequestSize, nil)
	defer done()
	resp := n.framedAnswer(ctx, req, rerr, n.handle)
	return nil, resp.AppendJSON(nil), noRelease
}

// swarmFramed answers one request of ProtocolSwarmFramed.
func (n *Node) swarmFramed(ctx context.Context, from clientKey, r io.Reader) (head, body []byte, release func()) {
	ctx, req, done, rerr := n.admitSwarm(ctx, from.peer, r)
	defer done()
	resp := n.framedAnswer(ctx, req, rerr, n.swarmRequest)
	return nil, resp.AppendJSON(nil), noRelease
}

// framedAnswer is the refusal, or the answer of h.
func (n *Node) framedAnswer(ctx context.Context, body []byte, rerr *rpcError, h func(context.Context, []byte) storagerpc.Response) storagerpc.Response {
	if rerr != nil {
		return rerr.response()
	}
	return h(ctx, body)
}

// onionFramed answers one request of onion.ProtocolFramed: [u16 status][body].
func (n *Node) onionFramed(ctx context.Context, from clientKey, r io.Reader) (head, answer []byte, release func()) {
	ctx, data, done, rerr := n.admitOnion(ctx, from, r)
	defer done()
	var status int
	var body []byte
	release = noRelease
	if rerr != nil {
		status, body = rerr.code, []byte(rerr.msg)
	} else {
		status, body, release = n.onionStep(ctx, int(data[0]), data[1:], from)
	}
	if status == onion.StatusOK {
		return statusOKHead, body, release
	}
	return binary.BigEndian.AppendUint16(nil, uint16(status)), body, release
}

// statusOKHead is the head of an onion answer of status 200, shared (it is
// only written).
var statusOKHead = binary.BigEndian.AppendUint16(nil, onion.StatusOK)

// framedLimits are the largest frames of the framed protocols.
var framedLimits = struct{ storage, swarm, onion int }{storagerpc.MaxRequestSize, maxSwarmRequest, onion.MaxLayerSize + 1}
