// Package groupconfig is a closed group's info and members configs, as
// libsession-util writes them for the groups Session apps make (03
// groups): what the group is called and how it behaves (info, namespace
// 13), and who is in it (members, namespace 14). The third config, the
// group's keys (namespace 12), is package groupkeys.
//
// # Design
//
// Both configs are config messages (package configmsg: a seqno, the data,
// the diffs that let concurrent writes merge) with two differences from an
// account's own configs:
//
//   - only admins write them: each message is signed with the group's
//     Ed25519 key, and a reader refuses any message without that
//     signature (configmsg.ParseSigned). A member, who holds only the
//     public key, cannot sign a merge and reads the newest message until
//     an admin pushes one.
//   - they are encrypted with the group's current key (from the keys
//     config), not a key derived from a seed; a reader tries every key it
//     holds, newest first. After a rekey, admins push both configs again
//     under the new key, changed or not.
//
// A members config lists at most MaxMembers (100) members, admins
// included: a stored message listing more is skipped whole, and a change
// that would make 101 is refused.
//
// Facts from libsession-util (commit 8762e9d, branch dev):
// include/session/config/groups/{info,members}.hpp, src/config/groups/
// {info,members}.cpp, src/config/base.cpp. Known answers: its
// tests/test_group_info.cpp and test_group_members.cpp, replayed step by
// step, compared with what libsession-util itself stored for the same
// steps (testdata/libsession-configs.txt; see groupkeys/testdata/libsession).
//
// # Use
//
// A member reads a config from what its namespace holds:
//
//	l, err := groupconfig.Load(groupconfig.MembersKind, stored, keys.GroupKeys(), keys.GroupPublic(), nil)
//	members, err := groupconfig.ListMembers(l.Message.Data())
//
// An admin loads with the group's private key, edits, and stores the
// sealed result (deleting the stored messages it replaces: all but
// l.Used):
//
//	l, err := groupconfig.Load(groupconfig.InfoKind, stored, keys.GroupKeys(), pub, priv)
//	m := l.Message.Edit()                       // or NewConfig(priv) for a new group
//	err = groupconfig.SetInfo(m.Data(), groupconfig.Info{Name: "friends", Created: now})
//	key, _ := keys.EncryptionKey()
//	blob, err := groupconfig.Seal(groupconfig.InfoKind, m, key)
//
// The data functions (ReadInfo, SetInfo, ListMembers, GetMember,
// SetMember, DeleteMember, MemberIDs) keep what they do not know of the
// data, as the user profile and contacts functions of configmsg do.
package groupconfig
