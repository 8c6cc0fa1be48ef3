// Package groupkeys is the keys config of a closed group as Session apps
// make them (03 groups, libsession-util's groups::Keys): the group's
// encryption keys by generation, the keys messages that give them to the
// group's members, the encryption of the group's messages with them, and
// the subaccount tokens members use on the group's swarm.
//
// # Design
//
// A group is an Ed25519 key pair; its Account ID is 03 and the public
// key. Admins hold the private key, members only the public one. Each
// change of membership that must lock someone out makes a new key: an
// admin's Rekey writes a keys message (namespace 12) holding the new key
// once for admins and once for each member the members config lists,
// encrypted for that member's X25519 key; everyone Loads it and keeps the
// key under its generation. A member added without a new key is given the
// keys the group already has by a supplemental keys message (Supplement).
// A member removed before a rekey holds none of the keys made after, so it
// can read neither the configs nor the messages written after its
// removal; a member added with a supplement reads from the oldest
// generation it was given. Keys expire 60 days after a newer generation
// was stored (by the swarm's timestamps, never the local clock).
//
// Keys are made deterministically from the member list and the group's
// seed, so that two admins making the same change make the same key; two
// admins making different changes at once make two keys of one generation,
// which NeedsRekey reports. Every keys message is signed by the group's key
// and refused whole (nothing changes) if it is not, or is malformed.
//
// Group messages (namespace 11) are the padded Content signed by its
// author's Ed25519 key, compressed when that helps, padded to 256 bytes
// and encrypted with the group's current key (EncryptMessage); any key
// held opens them (DecryptMessage), and CheckAuthor refuses a message from
// someone the members config does not list.
//
// Everything here is libsession-util's, byte for byte where it can be:
// src/config/groups/keys.cpp and include/session/config/groups/keys.hpp,
// src/multi_encrypt.cpp, at commit 8762e9d (branch dev). Known answers:
// tests/test_group_keys.cpp ("Group Keys - C++ API", "swarm
// authentication", "promotion") replayed step by step against what
// libsession-util itself produced for the same steps (every keys message
// byte for byte; testdata/libsession holds the program that made
// testdata/libsession-keys.txt).
//
// Bounds: at most MaxMembers (100) members per key, MaxKeys keys,
// MaxHashesPerGeneration message hashes per generation, keys messages no
// larger than the storage server stores, group messages of at most
// MaxPlaintext once decompressed. A Keys is not safe for concurrent use.
//
// # Use
//
// An admin making a group:
//
//	k, _ := groupkeys.New(alice, groupPub, groupSeed)
//	msg, _ := k.Rekey(memberIDs)          // store in namespace 12
//	k.Load(hash, msg, storedAt)           // once stored: the key is no longer pending
//	key, _ := k.EncryptionKey()           // seal the info and members configs with it
//	auth, _ := groupkeys.MakeSubaccount(groupSeed, bob.AccountID(), groupkeys.SubaccountFlags(true, false))
//
// A member:
//
//	k, _ := groupkeys.New(bob, groupPub, nil)
//	for _, m := range stored12 { k.Load(m.Hash, m.Data, m.Timestamp) }
//	ct, _ := k.EncryptMessage(paddedContent)     // store in namespace 11
//	msg, err := k.DecryptMessage(stored11)       // msg.Author, msg.Content
//	err = msg.CheckAuthor(members)               // groupconfig.ListMembers
//	signer, _ := groupkeys.NewSubaccountSigner(bob, groupID, auth, true, false)
//
// Dump and Restore keep a Keys between runs, in libsession's layout.
package groupkeys
