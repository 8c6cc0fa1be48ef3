package configmsg

import (
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// The conversation info config (namespace 4, libsession-util's
// include/session/config/convo_info_volatile.hpp): what changes often,
// per conversation. For one-to-one conversations, "1" maps the other
// account's 33-byte ID to {"r": the last message read, unix ms (always
// present), "u": 1 if marked unread}. Other kinds of conversation ("o"
// communities, "g" groups, "C" legacy groups) are kept as they are.

// Read marks older than PruneLow are not set; conversations read last
// more than PruneHigh ago, and not marked unread, are pruned before a push
// (libsession's PRUNE_LOW and PRUNE_HIGH).
const (
	PruneLow  = 30 * 24 * time.Hour
	PruneHigh = 45 * 24 * time.Hour
)

// Convo is a one-to-one conversation's volatile state.
type Convo struct {
	ID       string `json:"id"`        // the other account's ID, 66 hex digits
	LastRead int64  `json:"last_read"` // unix ms of the last message read
	Unread   bool   `json:"unread,omitempty"`
}

// ListConvos lists the one-to-one conversations, by ID.
func ListConvos(d Dict) []Convo {
	all, _ := d["1"].(Dict)
	var out []Convo
	for k, v := range all {
		c, ok := v.(Dict)
		if !ok || len(k) != 33 {
			continue
		}
		r, _ := c["r"].(int64)
		out = append(out, Convo{ID: hex.EncodeToString([]byte(k)), LastRead: r, Unread: c["u"] == int64(1)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// MarkRead moves a one-to-one conversation's read mark forward to at (unix
// ms; never back: another device may have read further) and clears its
// unread flag. A mark older than PruneLow before now is not set.
func MarkRead(d Dict, id string, at int64, now time.Time) error {
	k, err := contactKey(strings.ToLower(id))
	if err != nil {
		return err
	}
	if at < now.Add(-PruneLow).UnixMilli() {
		return nil
	}
	info := subDict(subDict(d, "1"), k)
	if r, _ := info["r"].(int64); r < at {
		info["r"] = at
	}
	delete(info, "u")
	return nil
}

// PruneConvos drops the one-to-one conversations read last more than
// PruneHigh before now and not marked unread.
func PruneConvos(d Dict, now time.Time) {
	all, _ := d["1"].(Dict)
	cutoff := now.Add(-PruneHigh).UnixMilli()
	for k, v := range all {
		c, ok := v.(Dict)
		if !ok {
			continue
		}
		if r, _ := c["r"].(int64); r < cutoff && c["u"] != int64(1) {
			delete(all, k)
		}
	}
}
