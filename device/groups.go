package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// Groups are a device's closed groups, brought up to date and locked for
// it until Close.
type Groups struct {
	*group.Device
	// Added are the groups the account's user groups config gave (made,
	// joined on its other devices); ConfigErr why it was not read.
	Added     []*group.Group
	ConfigErr error
	// Inbox is what the account's inbox brought: invites, promotions.
	Inbox *group.Inbox
	home  Home
	close func()
}

// OpenGroups starts a client for identity name, with its state for group
// invites (Home.GroupInboxState, so that 'fetch' still shows them), locks
// its groups' store, and brings them up to date: the account's user groups
// config, then the invites and promotions in its inbox.
func OpenGroups(ctx context.Context, home Home, lc *ledgerrpc.Client, name string, log zerolog.Logger) (*Groups, error) {
	if err := identity.ValidName(name); err != nil {
		return nil, err
	}
	d, err := OpenWithState(ctx, home, lc, name, home.GroupInboxState(name), log)
	if err != nil {
		return nil, err
	}
	s := &group.Device{C: d.Client, Store: &group.Store{Dir: home.GroupsDir()}, Name: name,
		Log: log.With().Str("component", "group").Str("device", name).Logger()}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	unlock, err := s.Store.Lock(ctx, name)
	if err != nil {
		d.Close()
		return nil, err
	}
	g := &Groups{Device: s, home: home, close: func() { unlock(); d.Close() }}
	g.Added, g.ConfigErr = s.Recover(ctx)
	if g.Inbox, err = s.ReadInbox(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Close unlocks the store and stops the client.
func (g *Groups) Close() { g.close() }

// Notices are what opening found, a line each for a person: groups found
// in the account's config, invites and promotions, and what was refused.
func (g *Groups) Notices() []string {
	var out []string
	if g.ConfigErr != nil {
		out = append(out, fmt.Sprintf("the account's user groups config was not read: %v", g.ConfigErr))
	}
	for _, x := range g.Added {
		out = append(out, fmt.Sprintf("found group %q (%s) in the account's config", display.Escape(x.Name), x.ID))
	}
	names := AccountNames(g.home.Keystore())
	for _, r := range g.Inbox.Refused {
		if errors.Is(r.Err, group.ErrAlready) {
			// Another device's invite, read again here: nothing to do.
			out = append(out, fmt.Sprintf("ignored %v", r.Err))
			continue
		}
		out = append(out, fmt.Sprintf("a %s from %s was refused: %v", strings.ReplaceAll(r.Kind, "_", " "), display.NameOr(names, r.From), r.Err))
	}
	for _, x := range g.Inbox.Invited {
		out = append(out, fmt.Sprintf("invited to group %q (%s) by %s: 'sessionctl group join %s --as %s' accepts",
			display.Escape(x.Name), x.ID, display.NameOr(names, x.InvitedBy), display.GroupArg(x.Name, x.ID), g.Name))
	}
	for _, x := range g.Inbox.Promoted {
		out = append(out, fmt.Sprintf("now an admin of group %q (%s)", display.Escape(x.Name), x.ID))
	}
	if g.Inbox.OldKind > 0 {
		out = append(out, fmt.Sprintf("%s to groups of the old kind (an earlier sessionctl's) ignored", display.Plural(g.Inbox.OldKind, "invite")))
	}
	return out
}

// Find finds a group (a name or an ID) among the device's groups; one of
// the old kind is found with old set, and err group.ErrOldKind.
func (g *Groups) Find(arg string) (x *group.Group, old bool, err error) {
	x, err = g.Store.Load(g.Name, g.C.AccountID().String(), arg)
	return x, errors.Is(err, group.ErrOldKind), err
}

// Members resolves a comma-separated list of members (as Resolve does);
// each keeps the name it was given by (a keystore name) for the members
// config.
func Members(ctx context.Context, ks *identity.Keystore, lc *ledgerrpc.Client, list string) ([]group.Invitee, error) {
	var out []group.Invitee
	for _, m := range strings.Split(list, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		id, err := Resolve(ctx, ks, lc, m)
		if err != nil {
			return nil, err
		}
		if id.Prefix != identity.PrefixSession {
			return nil, errkind.Invalidf("%s is not a Session account (05)", m)
		}
		inv := group.Invitee{ID: id}
		if identity.ValidName(m) == nil && len(m) != identity.AccountIDLen {
			inv.Name = m
		}
		out = append(out, inv)
	}
	return out, nil
}

// MemberNames names a group's members: the keystore's name, else the name
// the members config gives, else (with a client) the account's contacts
// config's nickname or name for them.
func MemberNames(ctx context.Context, ks *identity.Keystore, g *group.Group, cl *client.Client) map[string]string {
	names := AccountNames(ks)
	for _, m := range g.MemberList() {
		if _, ok := names[m.AccountID]; !ok && m.Name != "" {
			names[m.AccountID] = m.Name
		}
	}
	if cl == nil {
		return names
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cfg, err := cl.LoadConfig(ctx, configmsg.Contacts)
	if err != nil {
		return names
	}
	for _, ct := range configmsg.ListContacts(cfg.Data()) {
		if _, ok := names[ct.ID]; ok {
			continue
		}
		if n := cmp.Or(ct.Nickname, ct.Name); n != "" {
			names[ct.ID] = n
		}
	}
	return names
}

// Role sums up this account's place in the group.
func Role(g *group.Group, old bool) string {
	switch {
	case old:
		return "old kind"
	case g.Destroyed:
		return "deleted"
	case g.Kicked:
		return "removed"
	case g.Invited:
		return "invited"
	case g.IsAdmin():
		return "admin"
	}
	return "member"
}

// GroupMember is a member in GroupInfo.
type GroupMember struct {
	AccountID string `json:"account_id"`
	Name      string `json:"name,omitempty"`
	Admin     bool   `json:"admin"`
	Status    string `json:"status"`
}

// GroupInfo is a group as the command line shows it (its --json form).
type GroupInfo struct {
	ID         string        `json:"group_id"`
	Name       string        `json:"name"`
	Admin      bool          `json:"admin"`
	Generation int64         `json:"generation"`
	Members    []GroupMember `json:"members"`
	Admins     []string      `json:"admins"`
	Revoked    []string      `json:"revoked_tokens"`
	Role       string        `json:"role"`
	Kicked     bool          `json:"kicked,omitempty"`
	Invited    bool          `json:"invited,omitempty"`
	Destroyed  bool          `json:"destroyed,omitempty"`
	OldKind    bool          `json:"old_kind,omitempty"`
}

// Info describes g, its members named as MemberNames names them.
func Info(ctx context.Context, ks *identity.Keystore, g *group.Group, old bool, cl *client.Client) GroupInfo {
	out := GroupInfo{ID: g.ID, Name: g.Name, Admin: g.IsAdmin(), Generation: g.Generation, Admins: g.Admins(), Revoked: g.Revoked,
		Role: Role(g, old), Kicked: g.Kicked, Invited: g.Invited, Destroyed: g.Destroyed, OldKind: old, Members: []GroupMember{}}
	names := MemberNames(ctx, ks, g, cl)
	for _, m := range g.MemberList() {
		out.Members = append(out.Members, GroupMember{AccountID: m.AccountID, Name: names[m.AccountID], Admin: m.Admin, Status: m.Status})
	}
	if out.Revoked == nil {
		out.Revoked = []string{}
	}
	if out.Admins == nil {
		out.Admins = []string{}
	}
	return out
}

// FindLocal finds a group in the stores of the keystore's identities, as
// they last read it, an admin's view first: no network needed.
func FindLocal(home Home, arg string) (*group.Group, bool, error) {
	st := &group.Store{Dir: home.GroupsDir()}
	all, err := home.Keystore().List()
	if err != nil {
		return nil, false, err
	}
	var found *group.Group
	old := false
	for _, e := range all {
		g, err := st.Load(e.Name, e.Keys.AccountID().String(), arg)
		isOld := errors.Is(err, group.ErrOldKind)
		if err != nil && !isOld {
			continue
		}
		if found == nil || g.IsAdmin() && !found.IsAdmin() {
			found, old = g, isOld
		}
	}
	if found == nil {
		return nil, false, errkind.Invalidf("no identity of this keystore is in a group %q", arg)
	}
	return found, old, nil
}

// WriteGroupMessages writes a group's messages for a person, a line each
// (a control message as "* NAME what it did"), and the unreadable ones to
// errw; names as MemberNames gives them, else the name the author's profile
// gives.
func WriteGroupMessages(w, errw io.Writer, msgs []group.Message, bad []group.Unreadable, names map[string]string) {
	for _, m := range msgs {
		if _, ok := names[m.From]; !ok && m.Name != "" {
			names[m.From] = m.Name
		}
	}
	for _, m := range msgs {
		if m.Kind == "" {
			fmt.Fprintf(w, "%s: %s\n", display.NameOr(names, m.From), display.Escape(m.Text))
			continue
		}
		text := m.Text
		for id, n := range names {
			text = strings.ReplaceAll(text, id, n)
		}
		fmt.Fprintf(w, "* %s %s\n", display.NameOr(names, m.From), display.Escape(text))
	}
	for _, b := range bad {
		fmt.Fprintf(errw, "unreadable %s: %s\n", cmp.Or(b.Hash, "config"), display.Escape(b.Reason))
	}
	if len(msgs) == 0 {
		fmt.Fprintln(w, "no new messages")
	}
}

// WriteInfo writes a group's info for a person: its members, admins, key
// generation and revoked tokens.
func WriteInfo(w io.Writer, info GroupInfo) {
	if info.OldKind {
		fmt.Fprintf(w, "group %q %s\na group of the old kind (made by an earlier sessionctl): 'group leave' forgets it\n", info.Name, info.ID)
		return
	}
	you := map[string]string{"admin": "an admin", "member": "a member", "invited": "invited (not joined)", "removed": "removed from it", "deleted": "gone: an admin deleted it"}[info.Role]
	fmt.Fprintf(w, "group %q %s\nkey generation %d; you are %s\n", info.Name, info.ID, info.Generation, you)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tACCOUNT ID\tADMIN\tSTATUS")
	for _, m := range info.Members {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", display.Escape(display.OrDash(m.Name)), m.AccountID, m.Admin, strings.ReplaceAll(m.Status, "_", " "))
	}
	tw.Flush()
	if len(info.Revoked) > 0 {
		fmt.Fprintf(w, "revoked tokens: %d (the swarm keeps the last 50)\n", len(info.Revoked))
	}
}
