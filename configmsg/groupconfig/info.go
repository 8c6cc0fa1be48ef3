package groupconfig

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/configmsg"
)

// The info config's keys (libsession-util's
// include/session/config/groups/info.hpp):
//
//	!  1 once the group is destroyed
//	c  created, unix seconds
//	d  delete messages sent before, unix seconds
//	D  delete attachments sent before, unix seconds
//	E  disappearing messages timer (delete after send), seconds
//	n  name, UTF-8, at most 100 bytes
//	o  description, UTF-8, at most 2,000 bytes
//	p  picture URL, with q its 32-byte key
//
// Values this package does not know are kept as they are.

// Limits of the info config (libsession's Info::NAME_MAX_LENGTH and
// DESCRIPTION_MAX_LENGTH), in bytes.
const (
	MaxNameLength        = 100
	MaxDescriptionLength = 2000
	MaxURLLength         = 223 // libsession's profile_pic::MAX_URL_LENGTH
)

// Info is what a group's info config says. Zero values are absent.
type Info struct {
	Name        string        `json:"name,omitempty"`
	Description string        `json:"description,omitempty"`
	PicURL      string        `json:"pic_url,omitempty"`
	PicKey      []byte        `json:"pic_key,omitempty"`
	ExpiryTimer time.Duration `json:"expiry_timer,omitempty"` // whole seconds
	// Created, DeleteBefore and DeleteAttachmentsBefore are unix seconds.
	Created                 int64 `json:"created,omitempty"`
	DeleteBefore            int64 `json:"delete_before,omitempty"`
	DeleteAttachmentsBefore int64 `json:"delete_attachments_before,omitempty"`
	Destroyed               bool  `json:"destroyed,omitempty"`
}

// ReadInfo reads an info config's data. Values of the wrong type read as
// absent, as libsession reads them.
func ReadInfo(d configmsg.Dict) Info {
	var in Info
	in.Name, _ = d["n"].(string)
	in.Description, _ = d["o"].(string)
	in.PicURL, in.PicKey = readPic(d)
	if e, ok := d["E"].(int64); ok && e > 0 && e <= maxSeconds {
		in.ExpiryTimer = time.Duration(e) * time.Second
	}
	in.Created, _ = d["c"].(int64)
	in.DeleteBefore, _ = d["d"].(int64)
	in.DeleteAttachmentsBefore, _ = d["D"].(int64)
	if f, ok := d["!"].(int64); ok && f > 0 {
		in.Destroyed = true
	}
	return in
}

// maxSeconds keeps a timer in seconds inside a time.Duration.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// SetInfo writes in into an info config's data, keeping what this package
// does not know. It changes nothing if in is not valid.
func SetInfo(d configmsg.Dict, in Info) error {
	if err := checkText("group name", in.Name, MaxNameLength); err != nil {
		return err
	}
	if err := checkText("group description", in.Description, MaxDescriptionLength); err != nil {
		return err
	}
	if err := checkPic(in.PicURL, in.PicKey); err != nil {
		return err
	}
	if in.ExpiryTimer < 0 || in.ExpiryTimer%time.Second != 0 {
		return fmt.Errorf("disappearing messages timer %v: want whole seconds, not negative", in.ExpiryTimer)
	}
	setString(d, "n", in.Name)
	setString(d, "o", in.Description)
	setPic(d, in.PicURL, in.PicKey)
	setPositive(d, "E", int64(in.ExpiryTimer/time.Second))
	setPositive(d, "c", in.Created)
	setPositive(d, "d", in.DeleteBefore)
	setPositive(d, "D", in.DeleteAttachmentsBefore)
	if in.Destroyed {
		d["!"] = int64(1)
	} else {
		delete(d, "!")
	}
	return nil
}

func checkText(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%s: %d bytes, at most %d", what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not UTF-8", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%s: holds a NUL byte", what)
		}
	}
	return nil
}

func checkPic(url string, key []byte) error {
	if url == "" {
		if len(key) != 0 {
			return fmt.Errorf("picture key without a URL")
		}
		return nil
	}
	if len(url) > MaxURLLength {
		return fmt.Errorf("picture URL: %d bytes, at most %d", len(url), MaxURLLength)
	}
	if len(key) != 32 {
		return fmt.Errorf("picture key: %d bytes, want 32", len(key))
	}
	return nil
}

// readPic reads "p" and "q": both, or neither.
func readPic(d configmsg.Dict) (string, []byte) {
	url, _ := d["p"].(string)
	key, _ := d["q"].(string)
	if url == "" || len(key) != 32 {
		return "", nil
	}
	return url, []byte(key)
}

func setPic(d configmsg.Dict, url string, key []byte) {
	if url == "" {
		delete(d, "p")
		delete(d, "q")
		return
	}
	d["p"], d["q"] = url, string(key)
}

func setString(d configmsg.Dict, k, v string) {
	if v == "" {
		delete(d, k)
	} else {
		d[k] = v
	}
}

// setPositive sets k to v, or removes it when v is not positive
// (libsession's set_positive_int).
func setPositive(d configmsg.Dict, k string, v int64) {
	if v > 0 {
		d[k] = v
	} else {
		delete(d, k)
	}
}
