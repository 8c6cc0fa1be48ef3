package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/urfave/cli/v2"
)

var asFlag = &cli.StringFlag{Name: "as", Usage: "the identity (`NAME`) acting"}

func groupCommand() *cli.Command {
	with := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{asFlag, ledgerURLFlag}, extra...)
	}
	return &cli.Command{
		Name:  "group",
		Usage: "closed groups: create, invite, talk, kick with revocation and key rotation",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a group; you are its first admin", ArgsUsage: "NAME", Flags: with(&cli.StringFlag{Name: "members", Usage: "`MEMBERS` to invite, comma-separated (names, Account IDs or session names)"}, jsonFlag), Action: groupCreate},
			{Name: "add", Usage: "invite a member (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMemberAct("add")},
			{Name: "kick", Usage: "remove a member: revoke its token and rotate the key (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMemberAct("kick")},
			{Name: "promote", Usage: "make a member an admin: it gets the group key (admins)", ArgsUsage: "GROUP MEMBER", Flags: with(), Action: groupMemberAct("promote")},
			{Name: "leave", Usage: "leave a group", ArgsUsage: "GROUP", Flags: with(), Action: groupLeave},
			{Name: "send", Usage: "post a message to a group", ArgsUsage: "GROUP TEXT", Flags: with(jsonFlag), Action: groupSend},
			{Name: "fetch", Usage: "read a group's new messages", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupFetch},
			{Name: "info", Usage: "a group's members, admins, key generation and revoked tokens", ArgsUsage: "GROUP", Flags: with(jsonFlag), Action: groupInfo},
			{Name: "ls", Usage: "the groups of an identity (accepting the invites in its inbox)", ArgsUsage: " ", Flags: with(jsonFlag), Action: groupList},
		},
	}
}

// groupSession starts a client for --as and accepts the group invites in
// its inbox (read with a state of its own, so `fetch` still shows them).
func groupSession(c *cli.Context) (*group.Session, func(), error) {
	name := c.String("as")
	if name == "" {
		return nil, nil, usagef("--as NAME is required: the identity acting")
	}
	if err := identity.ValidName(name); err != nil {
		return nil, nil, usageError(err)
	}
	dir := c.String(dirFlag.Name)
	cl, _, err := startClient(c, name, filepath.Join(dir, "clients", name+".groups.json"))
	if err != nil {
		return nil, nil, err
	}
	s := &group.Session{C: cl, Store: &group.Store{Dir: filepath.Join(dir, "groups")}}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	joined, refused, err := s.AcceptInvites(ctx)
	if err != nil {
		cl.Close()
		return nil, nil, clientError(err)
	}
	for _, r := range refused {
		fmt.Fprintf(c.App.ErrWriter, "an invite from %s was refused: %v\n", r.From[:12], r.Err)
	}
	for _, g := range joined {
		fmt.Fprintf(c.App.ErrWriter, "joined group %q (%s)\n", escapeText(g.Name), g.ID)
	}
	return s, func() { cl.Close() }, nil
}

// groupError maps group errors to exit codes: the user's mistakes are 2.
func groupError(err error) error {
	for _, e := range []error{group.ErrNotAdmin, group.ErrTooMany, group.ErrNotMember, group.ErrUnknown, group.ErrAlready, group.ErrKicked, group.ErrNameTaken} {
		if errors.Is(err, e) {
			return usageError(err)
		}
	}
	return clientError(err)
}

func loadGroup(c *cli.Context, s *group.Session, arg string) (*group.Group, error) {
	g, err := s.Store.Load(s.C.AccountID().String(), arg)
	if err != nil {
		return nil, groupError(err)
	}
	return g, nil
}

func groupCreate(c *cli.Context) error {
	name, err := oneArg(c, "the group NAME")
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return usagef("a group name is 1-100 characters")
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	lc, err := ledgerClient(c)
	if err != nil {
		return err
	}
	var members []identity.AccountID
	for _, m := range strings.Split(c.String("members"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		id, err := resolveAccount(c, lc, m)
		if err != nil {
			return err
		}
		members = append(members, id)
	}
	if len(members)+1 > group.MaxMembers {
		return usagef("%d members: %v", len(members)+1, group.ErrTooMany)
	}
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
	defer cancel()
	g, err := s.Create(ctx, name, members)
	if err != nil {
		return groupError(err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, groupJSON(g))
	}
	fmt.Fprintf(c.App.Writer, "created group %q: %s\n%s invited; they join with 'sessionctl group ls --as NAME'\n", g.Name, g.ID, plural(len(g.Members)-1, "member"))
	return nil
}

func groupMemberAct(what string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() != 2 {
			return usagef("group %s takes two arguments, GROUP and MEMBER", what)
		}
		s, done, err := groupSession(c)
		if err != nil {
			return err
		}
		defer done()
		g, err := loadGroup(c, s, c.Args().Get(0))
		if err != nil {
			return err
		}
		lc, err := ledgerClient(c)
		if err != nil {
			return err
		}
		member, err := resolveAccount(c, lc, c.Args().Get(1))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Context, 2*time.Minute)
		defer cancel()
		switch what {
		case "add":
			err = s.Add(ctx, g, member)
		case "kick":
			err = s.Kick(ctx, g, member)
		case "promote":
			err = s.Promote(ctx, g, member)
		}
		if err != nil {
			return groupError(err)
		}
		switch what {
		case "add":
			fmt.Fprintf(c.App.Writer, "invited %s to %q\n", member, g.Name)
		case "kick":
			fmt.Fprintf(c.App.Writer, "removed %s from %q: token revoked, key rotated to generation %d\n", member, g.Name, g.Generation)
		case "promote":
			fmt.Fprintf(c.App.Writer, "%s is now an admin of %q\n", member, g.Name)
		}
		return nil
	}
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
	g, err := loadGroup(c, s, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Leave(ctx, g); err != nil {
		return groupError(err)
	}
	fmt.Fprintf(c.App.Writer, "left %q; an admin's next fetch removes you and rotates the key\n", g.Name)
	return nil
}

func groupSend(c *cli.Context) error {
	if c.NArg() != 2 {
		return usagef("group send takes two arguments, GROUP and TEXT")
	}
	s, done, err := groupSession(c)
	if err != nil {
		return err
	}
	defer done()
	g, err := loadGroup(c, s, c.Args().Get(0))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	if err := s.Send(ctx, g, c.Args().Get(1)); err != nil {
		return groupError(err)
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
	g, err := loadGroup(c, s, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	msgs, bad, err := s.Fetch(ctx, g)
	if err != nil {
		return groupError(err)
	}
	if c.Bool("json") {
		if msgs == nil {
			msgs = []group.Message{}
		}
		return printJSON(c.App.Writer, struct {
			Messages   []group.Message    `json:"messages"`
			Unreadable []group.Unreadable `json:"unreadable,omitempty"`
		}{msgs, bad})
	}
	names := senderNames(c)
	for _, m := range msgs {
		fmt.Fprintf(c.App.Writer, "%s: %s\n", nameOr(names, m.From), m.Text)
	}
	for _, b := range bad {
		fmt.Fprintf(c.App.ErrWriter, "unreadable %s: %s\n", b.Hash, b.Reason)
	}
	if len(msgs) == 0 {
		fmt.Fprintln(c.App.Writer, "no new messages")
	}
	return nil
}

// senderNames names the keystore's accounts: an account with several
// devices by its first (not a linked one).
func senderNames(c *cli.Context) map[string]string {
	out := map[string]string{}
	if all, err := keystore(c).List(); err == nil {
		for _, e := range all {
			if id := e.Keys.AccountID().String(); out[id] == "" || e.DeviceOf == "" {
				out[id] = e.Name
			}
		}
	}
	return out
}

func nameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id[:12] + "..."
}

type groupInfoJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Admin      bool     `json:"admin"`
	Generation int      `json:"generation"`
	Members    []string `json:"members"`
	Admins     []string `json:"admins"`
	Revoked    []string `json:"revoked_tokens"`
	Kicked     bool     `json:"kicked,omitempty"`
}

func groupJSON(g *group.Group) groupInfoJSON {
	out := groupInfoJSON{ID: g.ID, Name: g.Name, Admin: g.IsAdmin(), Generation: g.Generation, Admins: g.Admins(), Revoked: g.Revoked, Kicked: g.Kicked}
	for _, m := range g.Members {
		out.Members = append(out.Members, m.AccountID)
	}
	if out.Revoked == nil {
		out.Revoked = []string{}
	}
	return out
}

func groupInfo(c *cli.Context) error {
	arg, err := oneArg(c, "GROUP")
	if err != nil {
		return err
	}
	var g *group.Group
	if c.String("as") == "" {
		// Without --as: the group as the identities of this keystore know
		// it, an admin's view first (no network needed).
		g, err = localGroup(c, arg)
	} else {
		s, done, err2 := groupSession(c)
		if err2 != nil {
			return err2
		}
		defer done()
		g, err = loadGroup(c, s, arg)
	}
	if err != nil {
		return err
	}
	info := groupJSON(g)
	if c.Bool("json") {
		return printJSON(c.App.Writer, info)
	}
	names := senderNames(c)
	w := c.App.Writer
	fmt.Fprintf(w, "group %q %s\nkey generation %d; you are %s\n", g.Name, g.ID, g.Generation, map[bool]string{true: "an admin", false: "a member"}[g.IsAdmin()])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tACCOUNT ID\tADMIN")
	for _, m := range g.Members {
		fmt.Fprintf(tw, "%s\t%s\t%v\n", nameOr(names, m.AccountID), m.AccountID, m.Admin)
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
	all, err := s.Store.List(s.C.AccountID().String())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := []groupInfoJSON{}
		for _, g := range all {
			out = append(out, groupJSON(g))
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
	for _, g := range all {
		role := "member"
		if g.IsAdmin() {
			role = "admin"
		}
		if g.Kicked {
			role = "removed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g.Name, g.ID, len(g.Members), g.Generation, role)
	}
	return tw.Flush()
}

// localGroup finds a group in the stores of the keystore's identities.
func localGroup(c *cli.Context, arg string) (*group.Group, error) {
	st := &group.Store{Dir: filepath.Join(c.String(dirFlag.Name), "groups")}
	all, err := keystore(c).List()
	if err != nil {
		return nil, err
	}
	var found *group.Group
	for _, e := range all {
		g, err := st.Load(e.Keys.AccountID().String(), arg)
		if err != nil {
			continue
		}
		if found == nil || g.IsAdmin() && !found.IsAdmin() {
			found = g
		}
	}
	if found == nil {
		return nil, usagef("no identity of this keystore is in a group %q", arg)
	}
	return found, nil
}
