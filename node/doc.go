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
// expire and expire_all are forwarded the same way. Requests for an account
// another swarm owns get 421 with that swarm's nodes. Signed requests are
// checked for the ±60 s window and the signature, and a signature is accepted
// once (replays get 401). Each client has a token bucket (600 burst, 300/s).
//
// # Use
//
//	n, err := node.New(node.Config{Key: key, DataDir: dir, Ledger: ledgerrpc.NewClient(url, "")})
//	err = n.Start(ctx)
//	defer n.Close()
//	err = n.WaitReady(ctx)
package node
