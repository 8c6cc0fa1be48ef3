package client

import (
	"github.com/sessionctl/sessionctl/configmsg"
)

// Read marks, as Session apps sync them (the conversation info config,
// namespace 4): when a device reads a conversation, it moves that
// conversation's read mark forward to the newest message it read; another
// device that then fetches a message the mark is past knows it was read
// elsewhere (Message.ReadElsewhere). Only a device (Config.KeepConfigs)
// reads and moves marks; a failure to push them is logged: the messages
// were delivered.

// conversation is whom a message belongs with: its sender, or for a copy
// of what this account sent from another device, its recipient.
func (m *Message) conversation() string {
	if m.SyncTarget != "" {
		return m.SyncTarget
	}
	return m.From
}

// noteReadElsewhere marks the messages of f that another device read.
func noteReadElsewhere(f *Fetched) {
	if f.convos == nil {
		return
	}
	marks := map[string]int64{}
	for _, cv := range configmsg.ListConvos(f.convos.Data()) {
		marks[cv.ID] = cv.LastRead
	}
	for i := range f.Messages {
		m := &f.Messages[i]
		if r, ok := marks[m.conversation()]; ok && m.isText() && m.SentAt > 0 && m.SentAt <= r {
			m.ReadElsewhere = true
		}
	}
}

// markRead moves the read marks of the conversations f delivered.
func (c *Client) markRead(f *Fetched) {
	if f.convos == nil || f.ctx == nil || f.ctx.Err() != nil {
		return
	}
	newest := map[string]int64{}
	me := c.AccountID().String()
	for _, m := range f.Messages {
		if !m.isText() || m.Request || m.SentAt <= 0 || m.conversation() == me {
			continue
		}
		newest[m.conversation()] = max(newest[m.conversation()], m.SentAt)
	}
	if len(newest) == 0 {
		return
	}
	now := c.cfg.Now()
	_, _, err := c.updateLoaded(f.ctx, f.convos, 0, func(d configmsg.Dict) error {
		for id, at := range newest {
			if err := configmsg.MarkRead(d, id, at, now); err != nil {
				return err
			}
		}
		configmsg.PruneConvos(d, now)
		return nil
	})
	if err != nil {
		c.log.Warn().Err(err).Msg("the read marks were not pushed: other devices show these messages as unread")
	}
}
