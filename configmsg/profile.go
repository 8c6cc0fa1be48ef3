package configmsg

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// The data of the user profile and contacts configs, with the keys of
// libsession-util's include/session/config/user_profile.hpp and
// contacts.hpp. Values this package does not know are kept as they are.
//
// The user profile's keys: "n" the name, "p" and "q" the picture's URL and
// its 32-byte key, "t" when the user last changed them (unix seconds),
// "P", "Q" and "T" the same picture re-uploaded (they win when T > t), "+"
// the Note to Self priority.

// MaxNameLength bounds a display name or a nickname, in bytes
// (libsession's contact_info::MAX_NAME_LENGTH).
const MaxNameLength = 100

// Profile is what the user profile config (namespace 2) says.
type Profile struct {
	Name   string `json:"name,omitempty"`    // "n"
	PicURL string `json:"pic_url,omitempty"` // "p"
	PicKey []byte `json:"pic_key,omitempty"` // "q", 32 bytes
	// NoteToSelfPriority is "+": the "Note to Self" conversation's place
	// (higher is higher; -1 hides it).
	NoteToSelfPriority int64 `json:"note_to_self_priority,omitempty"`
	// UpdatedAt is when the user last changed the name or picture ("t",
	// or "T" for a re-upload), in unix ms; 0 when no device said.
	UpdatedAt int64 `json:"updated_at,omitempty"`
}

// ReadProfile reads a user profile config's data.
func ReadProfile(d Dict) Profile {
	var p Profile
	p.Name, _ = d["n"].(string)
	p.PicURL, p.PicKey = readPic(d, "p", "q")
	set, _ := d["t"].(int64)
	reup, _ := d["T"].(int64)
	if url, key := readPic(d, "P", "Q"); url != "" && reup > set {
		p.PicURL, p.PicKey, set = url, key, reup
	}
	if set > 0 && set < 1<<40 {
		p.UpdatedAt = set * 1000
	}
	p.NoteToSelfPriority, _ = d["+"].(int64)
	return p
}

// readPic reads a picture's URL and key: both, or neither.
func readPic(d Dict, urlKey, keyKey string) (string, []byte) {
	url, _ := d[urlKey].(string)
	if k, ok := d[keyKey].(string); ok && len(k) == 32 && url != "" {
		return url, []byte(k)
	}
	return "", nil
}

// checkName checks a display name or nickname.
func checkName(what, s string) error {
	if len(s) > MaxNameLength {
		return fmt.Errorf("%s: %d bytes, at most %d", what, len(s), MaxNameLength)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not UTF-8", what)
	}
	return nil
}

// SetProfileName sets the display name ("" removes it).
func SetProfileName(d Dict, name string) error {
	if err := checkName("display name", name); err != nil {
		return err
	}
	setString(d, "n", name)
	return nil
}

// SetProfilePic sets the profile picture's URL and key ("" removes it).
func SetProfilePic(d Dict, url string, key []byte) error {
	if url != "" && len(key) != 32 {
		return fmt.Errorf("profile picture key: %d bytes, want 32", len(key))
	}
	// A new picture (or none) replaces a re-upload of the old one.
	for _, k := range []string{"p", "q", "P", "Q", "T"} {
		delete(d, k)
	}
	if url != "" {
		d["p"], d["q"] = url, string(key)
	}
	return nil
}

// SetProfileUpdated records when the user changed the name or picture
// ("t", unix seconds), as libsession-util does on each such change: apps
// take a profile from a message only when it is newer than what they hold.
func SetProfileUpdated(d Dict, at time.Time) { setInt(d, "t", at.Unix()) }

// SetNoteToSelfPriority sets "+" (0 removes it).
func SetNoteToSelfPriority(d Dict, p int64) { setInt(d, "+", p) }

// subDict is d[k] as a dict, made (replacing a value of another kind) if
// need be. An empty one is pruned when the message is encoded.
func subDict(d Dict, k string) Dict {
	sub, ok := d[k].(Dict)
	if !ok {
		sub = Dict{}
		d[k] = sub
	}
	return sub
}

func setString(d Dict, k, v string) {
	if v == "" {
		delete(d, k)
	} else {
		d[k] = v
	}
}

func setInt(d Dict, k string, v int64) {
	if v == 0 {
		delete(d, k)
	} else {
		d[k] = v
	}
}

func setFlag(d Dict, k string, v bool) {
	if v {
		d[k] = int64(1)
	} else {
		delete(d, k)
	}
}

// Contact is one contact of the contacts config (namespace 3).
type Contact struct {
	ID         string `json:"id"`                 // the Account ID, 66 hex digits; the key, as 33 bytes
	Name       string `json:"name,omitempty"`     // "n": the name they gave themselves
	Nickname   string `json:"nickname,omitempty"` // "N": the name this account gave them
	Approved   bool   `json:"approved"`           // "a": this account accepted them
	ApprovedMe bool   `json:"approved_me"`        // "A": they accepted this account
	Blocked    bool   `json:"blocked"`            // "b"
	Created    int64  `json:"created,omitempty"`  // "j": unix seconds
}

// contactKey turns an Account ID into its 33-byte key.
func contactKey(id string) (string, error) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 || b[0] != 0x05 {
		return "", fmt.Errorf("contact %q: want an Account ID (66 hex digits starting 05)", id)
	}
	return string(b), nil
}

func readContact(key string, c Dict) Contact {
	out := Contact{ID: hex.EncodeToString([]byte(key))}
	out.Name, _ = c["n"].(string)
	out.Nickname, _ = c["N"].(string)
	out.Approved = c["a"] == int64(1)
	out.ApprovedMe = c["A"] == int64(1)
	out.Blocked = c["b"] == int64(1)
	out.Created, _ = c["j"].(int64)
	return out
}

// ListContacts lists the contacts of a contacts config's data, by ID.
func ListContacts(d Dict) []Contact {
	all, _ := d["c"].(Dict)
	var out []Contact
	for k, v := range all {
		if c, ok := v.(Dict); ok && len(k) == 33 {
			out = append(out, readContact(k, c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GetContact finds one contact.
func GetContact(d Dict, id string) (Contact, bool) {
	k, err := contactKey(strings.ToLower(id))
	if err != nil {
		return Contact{}, false
	}
	all, _ := d["c"].(Dict)
	c, ok := all[k].(Dict)
	if !ok {
		return Contact{ID: strings.ToLower(id)}, false
	}
	return readContact(k, c), true
}

// SetContact writes a contact, keeping what this package does not know of
// it. The name is always written (even empty), which keeps the contact's
// dict from being pruned.
func SetContact(d Dict, c Contact) error {
	k, err := contactKey(strings.ToLower(c.ID))
	if err != nil {
		return err
	}
	if err := checkName("name", c.Name); err != nil {
		return err
	}
	if err := checkName("nickname", c.Nickname); err != nil {
		return err
	}
	info := subDict(subDict(d, "c"), k)
	info["n"] = c.Name
	setString(info, "N", c.Nickname)
	setFlag(info, "a", c.Approved)
	setFlag(info, "A", c.ApprovedMe)
	setFlag(info, "b", c.Blocked)
	if c.Created > 0 {
		info["j"] = c.Created
	} else {
		delete(info, "j")
	}
	return nil
}

// DeleteContact removes a contact.
func DeleteContact(d Dict, id string) {
	k, err := contactKey(strings.ToLower(id))
	if err != nil {
		return
	}
	if all, ok := d["c"].(Dict); ok {
		delete(all, k)
	}
}
