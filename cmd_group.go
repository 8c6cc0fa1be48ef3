package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/urfave/cli/v2"
)

var asFlag = &cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) acting"}

func groupCommand() *cli.Command {
	with := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{asFlag, ledgerURLFlag}, extra...)
	}
	return &cli.Command{
		Name:  "group",
		Usage: "closed groups as Session apps make them: create, invite, join, talk, kick with revocation and key rotation",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a group; you are its first admin", ArgsUsage: "NAME", Flags: with(&cli.StringFlag{Name: "members", Usage: "`MEMBERS` to invite, comma-separated (names, Account IDs or session names)"}, jsonFlag), Action: groupCreate},
			{Name: "add", Usage: "invite members (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "history", Usage: "give them the group's keys so far: they read what it wrote before (else the key rotates)"}), Action: groupMemberAct("add")},
			{Name: "kick", Usage: "remove members: revoke their tokens, tell them, rotate the key (admins)", ArgsUsage: "GROUP MEMBER[,MEMBER...]", Flags: with(&cli.BoolFlag{Name: "delete-messages", Usage: "delete what they wrote, for everyone"}), Action: groupMemberAct("kick")},
			{Name: "promote", Usage: "make a member an admin: it gets the group key (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMemberAct("promote")},
			{Name: "join", Usage: "accept an invite to a group", ArgsUsage: "GROUP", Flags: with(), Action: groupJoin},
			{Name: "leave", Usage: "leave a group (or decline its invite)", ArgsUsage: "GROUP", Flags: with(), Action: groupLeave},
			{Name: "delete", Usage: "delete a group for everyone (admins)", ArgsUsage: "GROUP", Flags: with(), Action: groupDelete},
			{Name: "rename", Usage: "rename a group (admins)", ArgsUsage: "GROUP NAME", Flags: with(), Action: groupRename},
			{Name: "send", Usage: "post a message to a group", ArgsUsage: "GROUP TEXT", Flags: with(jsonFlag), Action: groupSend},
			{Name: "fetch", Usage: "read a group's new messages", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupFetch},
			{Name: "info", Usage: "a group's members (from its members config), admins, key generation and revoked tokens", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupInfo},
			{Name: "ls", Usage: "the groups of an identity, and the invites it received", ArgsUsage: " ", Flags: with(jsonFlag), Action: groupList},
		},
	}
}

// groupSession starts a client for --as and brings its groups up to date:
// what the account's user groups config says (groups made, joined or left
// on its other devices), then the invites and promotions in its inbox
// (read with a state of its own, so `fetch` still shows them). It holds
// the device's lock until done is called.
func groupSession(c *cli.Context) (*group.Session, func(), error) {
	name := c.String("as")
	if name == "" {
		return nil, nil, errkind.Invalidf("--as NAME is required: the identity acting")
	}
	if err := identity.ValidName(name); err != nil {
		return nil, nil, errkind.AsInvalid(err)
	}
	cl, _, err := startClient(c, name, dirOf(c).GroupInboxState(name))
	if err != nil {
		return nil, nil, err
	}
	s := &group.Session{C: cl, Store: &group.Store{Dir: dirOf(c).GroupsDir()}, Device: name,
		Log: logger(c).With().Str("component", "group").Str("device", name).Logger()}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	unlock, err := s.Store.Lock(ctx, name)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	done := func() { unlock(); cl.Close() }
	added, err := s.Recover(ctx)
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "the account's user groups config was not read: %v\n", err)
	}
	for _, g := range added {
		fmt.Fprintf(c.App.ErrWriter, "found group %q (%s) in the account's config\n", display.Escape(g.Name), g.ID)
	}
	in, err := s.ReadInbox(ctx)
	if err != nil {
		done()
		return nil, nil, err
	}
	names := senderNames(c)
	for _, r := range in.Refused {
		if errors.Is(r.Err, group.ErrAlready) {
			// Another device's invite, read again here: nothing to do.
			fmt.Fprintf(c.App.ErrWriter, "ignored %v\n", r.Err)
			continue
		}
		fmt.Fprintf(c.App.ErrWriter, "a %s from %s was refused: %v\n", strings.ReplaceAll(r.Kind, "_", " "), display.NameOr(names, r.From), r.Err)
	}
	for _, g := range in.Invited {
		fmt.Fprintf(c.App.ErrWriter, "invited to group %q (%s) by %s: 'sessionctl group join %s --as %s' accepts\n",
			display.Escape(g.Name), g.ID, display.NameOr(names, g.InvitedBy), display.GroupArg(g.Name, g.ID), name)
	}
	for _, g := range in.Promoted {
		fmt.Fprintf(c.App.ErrWriter, "now an admin of group %q (%s)\n", display.Escape(g.Name), g.ID)
	}
	if in.OldKind > 0 {
		fmt.Fprintf(c.App.ErrWriter, "%s to groups of the old kind (an earlier sessionctl's) ignored\n", display.Plural(in.OldKind, "invite"))
	}
	return s, done, nil
}

// loadGroup finds GROUP (a name or an ID) among the device's groups; a
// group of the old kind is refused (but leave).
func loadGroup(s *group.Session, arg string) (*group.Group, error) {
	g, err := s.Store.Load(s.Device, s.C.AccountID().String(), arg)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// members resolves a comma-separated list of members; each keeps the name
// it was given by (a keystore name) for the members config.
func members(c *cli.Context, list string) ([]group.Invitee, error) {
	lc, err := ledgerClient(c)
	if err != nil {
		return nil, err
	}
	var out []group.Invitee
	for _, m := range strings.Split(list, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		id, err := resolveAccount(c, lc, m)
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

func groupCreate(c *cli.Context) error {
	name, err := oneArg(c, "the group NAME")
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return errkind.Invalidf("a group name is 1-100 bytes")
	}
	invitees, err := members(c, c.String("members"))
	if err != nil {
		return err
	}
	if len(invitees)+1 > group.MaxMembers {
		return errkind.Invalidf("%d members: %v", len(invitees)+1, group.ErrTooMany)
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
	defer cancel()
	g, err := s.Create(ctx, name, invitees)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, groupJSON(c, g, false, nil))
	}
	fmt.Fprintf(c.App.Writer, "created group %q: %s\n%s invited; each joins with 'sessionctl group join %s --as NAME'\n",
		g.Name, g.ID, display.Plural(len(invitees), "member"), name)
	return nil
}

func groupMemberAct(what string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() != 2 {
			return errkind.Invalidf("group %s takes two arguments, GROUP and MEMBER", what)
		}
		invitees, err := members(c, c.Args().Get(1))
		if err != nil {
			return err
		}
		if len(invitees) == 0 {
			return errkind.Invalidf("group %s: no MEMBER given", what)
		}
		if what == "promote" && len(invitees) != 1 {
			return errkind.Invalidf("group promote takes one MEMBER")
		}
		s, done, err := groupSession(c)
		if err != nil {
			return err
		}
		defer done()
		g, err := loadGroup(s, c.Args().Get(0))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
		defer cancel()
		var ids []identity.AccountID
		for _, m := range invitees {
			ids = append(ids, m.ID)
		}
		switch what {
		case "add":
			err = s.Add(ctx, g, invitees, c.Bool("history"))
		case "kick":
			err = s.Kick(ctx, g, ids, c.Bool("delete-messages"))
		case "promote":
			err = s.Promote(ctx, g, ids[0])
		}
		if err != nil {
			return err
		}
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = id.String()
		}
		who := strings.Join(names, ", ")
		switch what {
		case "add":
			how := "the key rotated to generation " + fmt.Sprint(g.Generation) + ": they read from it on"
			if c.Bool("history") {
				how = "given the group's keys so far: they read its history"
			}
			fmt.Fprintf(c.App.Writer, "invited %s to %q (%s)\n", who, g.Name, how)
		case "kick":
			fmt.Fprintf(c.App.Writer, "removed %s from %q: token revoked, key rotated to generation %d\n", who, g.Name, g.Generation)
		case "promote":
			fmt.Fprintf(c.App.Writer, "%s is now an admin of %q (the group's key was sent)\n", who, g.Name)
		}
		return nil
	}
}

func groupJoin(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(s, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Join(ctx, g); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "joined %q (%s): key generation %d, %s\n", g.Name, g.ID, g.Generation, display.Plural(len(g.MemberList()), "member"))
	return nil
}

func groupLeave(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := s.Store.Load(s.Device, s.C.AccountID().String(), arg)
	old := errors.Is(err, group.ErrOldKind)
	if err != nil && !old {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	invited, gone := g.Invited, g.Kicked || g.Destroyed
	if err := s.Leave(ctx, g, old); err != nil {
		return err
	}
	switch {
	case old:
		fmt.Fprintf(c.App.Writer, "left %q, a group of the old kind: forgotten here\n", g.Name)
	case invited:
		fmt.Fprintf(c.App.Writer, "declined the invite to %q\n", g.Name)
	case gone:
		fmt.Fprintf(c.App.Writer, "forgot %q\n", g.Name)
	default:
		fmt.Fprintf(c.App.Writer, "left %q; an admin's next fetch removes you and rotates the key\n", g.Name)
	}
	return nil
}

func groupDelete(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(s, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Delete(ctx, g); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "deleted %q for everyone\n", g.Name)
	return nil
}

func groupRename(c *cli.Context) error {
	if c.NArg() != 2 {
		return errkind.Invalidf("group rename takes two arguments, GROUP and NAME")
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(s, c.Args().Get(0))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Rename(ctx, g, c.Args().Get(1)); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "renamed the group %q\n", g.Name)
	return nil
}

func groupSend(c *cli.Context) error {
	if c.NArg() != 2 {
		return errkind.Invalidf("group send takes two arguments, GROUP and TEXT")
	}
	if strings.TrimSpace(c.Args().Get(1)) == "" {
		return errkind.Invalidf("an empty message: give some TEXT")
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(s, c.Args().Get(0))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Send(ctx, g, c.Args().Get(1)); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"group": g.Name, "group_id": g.ID, "generation": g.Generation})
	}
	fmt.Fprintf(c.App.Writer, "sent to %q (key generation %d)\n", g.Name, g.Generation)
	return nil
}

func groupFetch(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(s, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	msgs, bad, err := s.Fetch(ctx, g)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, struct {
			Messages   []group.Message    `json:"messages"`
			Unreadable []group.Unreadable `json:"unreadable,omitempty"`
		}{msgs, bad})
	}
	names := groupNames(c, g, s.C)
	for _, m := range msgs {
		if _, ok := names[m.From]; !ok && m.Name != "" {
			names[m.From] = m.Name // the name the author's profile gives
		}
	}
	for _, m := range msgs {
		if m.Kind == "" {
			fmt.Fprintf(c.App.Writer, "%s: %s\n", display.NameOr(names, m.From), display.Escape(m.Text))
			continue
		}
		text := m.Text
		for id, n := range names {
			text = strings.ReplaceAll(text, id, n)
		}
		fmt.Fprintf(c.App.Writer, "* %s %s\n", display.NameOr(names, m.From), display.Escape(text))
	}
	for _, b := range bad {
		h := b.Hash
		if h == "" {
			h = "config"
		}
		fmt.Fprintf(c.App.ErrWriter, "unreadable %s: %s\n", h, display.Escape(b.Reason))
	}
	if len(msgs) == 0 {
		fmt.Fprintln(c.App.Writer, "no new messages")
	}
	return nil
}

// senderNames names the keystore's accounts.
func senderNames(c *cli.Context) map[string]string { return dirOf(c).AccountNames() }

// groupNames names a group's members: the keystore's name, else the name
// the members config gives, else (with a client) the account's contacts
// config's nickname or name for them.
func groupNames(c *cli.Context, g *group.Group, cl *client.Client) map[string]string {
	names := senderNames(c)
	for _, m := range g.MemberList() {
		if _, ok := names[m.AccountID]; !ok && m.Name != "" {
			names[m.AccountID] = m.Name
		}
	}
	if cl == nil {
		return names
	}
	ctx, cancel := context.WithTimeout(c.Context, 20*time.Second)
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

type groupMemberJSON struct {
	AccountID string `json:"account_id"`
	Name      string `json:"name,omitempty"`
	Admin     bool   `json:"admin"`
	Status    string `json:"status"`
}

type groupInfoJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Admin      bool              `json:"admin"`
	Generation int64             `json:"generation"`
	Members    []groupMemberJSON `json:"members"`
	Admins     []string          `json:"admins"`
	Revoked    []string          `json:"revoked_tokens"`
	Role       string            `json:"role"`
	Kicked     bool              `json:"kicked,omitempty"`
	Invited    bool              `json:"invited,omitempty"`
	Destroyed  bool              `json:"destroyed,omitempty"`
	OldKind    bool              `json:"old_kind,omitempty"`
}

// role sums up this account's place in the group.
func role(g *group.Group, old bool) string {
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

func groupJSON(c *cli.Context, g *group.Group, old bool, cl *client.Client) groupInfoJSON {
	out := groupInfoJSON{ID: g.ID, Name: g.Name, Admin: g.IsAdmin(), Generation: g.Generation, Admins: g.Admins(), Revoked: g.Revoked,
		Role: role(g, old), Kicked: g.Kicked, Invited: g.Invited, Destroyed: g.Destroyed, OldKind: old, Members: []groupMemberJSON{}}
	names := groupNames(c, g, cl)
	for _, m := range g.MemberList() {
		n := names[m.AccountID]
		out.Members = append(out.Members, groupMemberJSON{AccountID: m.AccountID, Name: n, Admin: m.Admin, Status: m.Status})
	}
	if out.Revoked == nil {
		out.Revoked = []string{}
	}
	if out.Admins == nil {
		out.Admins = []string{}
	}
	return out
}

func groupInfo(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	var g *group.Group
	var cl *client.Client
	old := false
	if c.String("as") == "" {
		// Without --as: the group as the identities of this keystore last
		// read it, an admin's view first (no network needed).
		g, old, err = localGroup(c, arg)
	} else {
		s, done, err2 := groupSession(c)
		if err2 != nil {
			return err2
		}
		defer done()
		cl = s.C
		g, err = s.Store.Load(s.Device, s.C.AccountID().String(), arg)
		old = errors.Is(err, group.ErrOldKind)
		if err == nil && !g.Invited && !g.Kicked && !g.Destroyed {
			// Every member reads the members config: the list is the group's.
			ctx, cancel := context.WithTimeout(c.Context, time.Minute)
			defer cancel()
			if rerr := s.Refresh(ctx, g); rerr != nil && !errors.Is(rerr, group.ErrKicked) && !errors.Is(rerr, group.ErrDestroyed) {
				return rerr
			}
		} else if old {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	info := groupJSON(c, g, old, cl)
	if c.Bool("json") {
		return printJSON(c.App.Writer, info)
	}
	w := c.App.Writer
	if old {
		fmt.Fprintf(w, "group %q %s\na group of the old kind (made by an earlier sessionctl): 'group leave' forgets it\n", g.Name, g.ID)
		return nil
	}
	you := map[string]string{"admin": "an admin", "member": "a member", "invited": "invited (not joined)", "removed": "removed from it", "deleted": "gone: an admin deleted it"}[info.Role]
	fmt.Fprintf(w, "group %q %s\nkey generation %d; you are %s\n", g.Name, g.ID, g.Generation, you)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tACCOUNT ID\tADMIN\tSTATUS")
	for _, m := range info.Members {
		n := m.Name
		if n == "" {
			n = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", display.Escape(n), m.AccountID, m.Admin, strings.ReplaceAll(m.Status, "_", " "))
	}
	tw.Flush()
	if len(info.Revoked) > 0 {
		fmt.Fprintf(w, "revoked tokens: %d (the swarm keeps the last 50)\n", len(info.Revoked))
	}
	return nil
}

func groupList(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	all, err := s.Store.List(s.Device, s.C.AccountID().String())
	if err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	if c.Bool("json") {
		out := []groupInfoJSON{}
		for _, e := range all {
			out = append(out, groupJSON(c, e.Group, e.Old, nil))
		}
		return printJSON(c.App.Writer, struct {
			Groups []groupInfoJSON `json:"groups"`
		}{out})
	}
	if len(all) == 0 {
		fmt.Fprintln(c.App.Writer, "no groups")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGROUP ID\tMEMBERS\tGENERATION\tROLE")
	for _, e := range all {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", display.Escape(e.Name), e.ID, len(e.MemberList()), e.Generation, role(e.Group, e.Old))
	}
	return tw.Flush()
}

// localGroup finds a group in the stores of the keystore's identities.
func localGroup(c *cli.Context, arg string) (*group.Group, bool, error) {
	st := &group.Store{Dir: dirOf(c).GroupsDir()}
	all, err := keystore(c).List()
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
