// Package node is one Session service node: a libp2p host (its peer ID is
// its Ed25519 key) that stores and serves messages for the accounts its swarm
// owns, as the real storage server does (SPEC 4), over libp2p instead of
// HTTPS and OxenMQ (SPEC 10).
//
// # Design
//
// A Node has its own SQLite database (storage.db, WAL) and two libp2p
// protocols (package storagerpc has their wire format): the storage RPC that
// clients call, and the swarm protocol between nodes. It follows the ledger
// through a long poll of each new block; when the swarms or the node list
// change it rebuilds its view (every node's keys, addresses and swarm), puts
// the published addresses in its peerstore, publishes its own address with a
// node_info transaction when the ledger's record is stale, and moves data:
// every member pushes its records to a new member of its swarm, and records
// whose accounts now map to another swarm are pushed to that swarm's members
// and forgotten here once one of them took them all. A move that fails (a
// receiver whose view is behind refuses records it does not own yet) is
// retried with each later block, so after the move settles no unexpired
// message is lost.
//
// A store accepted by one member is forwarded to every other member of the
// swarm, concurrently; each answers with its own signed result, and the store
// fails only if every member failed. delete, delete_all, delete_before,
// expire and expire_all are forwarded the same way; a delete leaves a
// tombstone until the message would have expired. Requests for an account
// another swarm owns get 421 with that swarm's nodes. Each method answers
// with the storage server's fields (t and hf included) and status codes
// (rpc.go; answers_test.go holds them to request_handler.cpp): a request is
// parsed whole first (400), then routed (421), then its clock checked (406)
// and its signature (401). A batch parses every subrequest before it runs
// any, so a malformed one refuses it whole. The signature of a write is
// accepted once, keyed on its bytes (replays get 401, however the base64 is
// spelled); a signed read may be served again, as upstream. Each client
// peer, and each address on the HTTPS edge, has a token bucket (600 burst,
// 300/s), which its onion requests draw on at the guard as its direct
// requests do.
//
// Nothing acknowledged is lost (repair.go): a member that was down, or that a
// forward timed out on, would never get a message the real network stores
// while it is away. Every RepairInterval each node compares what it holds
// with another member, in turn (a digest of 64 buckets, then the hashes of
// the buckets that differ), and pulls what it lacks: messages, tombstones
// (so a delete it missed reaches it, and no deleted message comes back) and
// subaccount revocations (so a kicked member's token is refused by every
// member, last writer wins between a revoke and an unrevoke). Pushes carry
// the revocations of the accounts they move.
//
// A kicked member is refused at once by every member (revsync.go): a node
// that starts, or joins a swarm, refuses requests made with a subaccount
// token (503, not ready; clients try another member) until it has asked
// every other member of its swarm for the revocations they hold and merged
// them. Members that are down are not waited for, members not ready yet or
// slow are asked again for a few rounds, so a node whose peers are all down
// still serves, with the revocations it holds.
//
// Nothing taken back comes back (repair.go, catchUp): a node that restarts
// holding messages may lack what its swarm stored meanwhile (an
// UnsendRequest, a deletion), so it answers no retrieve (503; clients ask
// another member) until it has repaired with a member of its swarm, or none
// answered for 30 s.
//
// Both transports take a request the same way (request.go): libp2p streams
// and the HTTPS edge (https.go) hand it to one path that counts it in (a
// panic ends that request only, Close waits for running handlers), gives it
// one deadline (30 s from its arrival, on the connection and its context),
// charges the sender (a clientKey: a libp2p peer, or an HTTPS client's
// address) a token of its rate and then its body's bytes against a Budget
// shared by a devnet's nodes (in total and per client: a flood of large
// requests is refused at once, 503, not buffered), and reads a storage
// request's envelope with one decoder, the storage server's rules. Every
// handler is safe before the node has its first view. Nothing from the
// network takes the process down. The caches that grow with input are bounded: rate
// buckets (50,000 peers and addresses), the signatures of writes (100,000;
// past that signed writes are refused, not forgotten early), the connection
// manager (8 to 20 connections), the SQLite pool (1 connection). As an exit,
// a node forwards only to the servers it was given (Config.Servers) and
// never follows a redirect.
//
// # Budgets
//
// A devnet runs up to 2,000 nodes in one process, on a machine that may open
// 20,000 files, with 2 cores and under 4 GiB. What one node may cost there:
//
//   - Open files: 5. Its database (one connection: the file, its WAL and
//     shared memory), its libp2p TCP listener and its HTTPS listener.
//     Connections between nodes of one process cost none: they are native
//     in-memory connections, with no Noise or yamux (package memtransport);
//     connections from clients in other processes cost one each while open.
//     Logs go to one file for all nodes.
//   - Connections: 8 to 20 (the connection manager trims back to 8 once over
//     20, oldest idle first, never the node's own swarm members): about 18 KB
//     and 1 goroutine at each end in memory, 45 KB and 5 over TCP.
//   - Goroutines: about 9 of its own and libp2p's, plus 1 a connection end in
//     memory (5 over TCP); a test of another node waits its turn (4 at a
//     time).
//   - Memory: about 1.5 MB (the libp2p host's object graph, resource
//     manager, peerstore and connection manager, about 170 KB live;
//     connections; the SQLite page cache, 256 KiB at most).
//
// What nodes of one process share, they share through Config: the view of
// the network (Views: the ledger's node list parsed once a change, not once
// a node), the budget of request bytes (Budget). Each node keeps its own
// identity, keys, database, host and failure: closing one closes exactly
// that one. Addresses go into a node's peerstore when it dials (outHost),
// not for every node of the network at every change.
//
// # Use
//
//	n, err := node.New(node.Config{Key: key, DataDir: dir, Ledger: ledgerrpc.NewClient(url, "")})
//	err = n.Start(ctx)
//	defer n.Close()
//	err = n.WaitReady(ctx)
package node
