package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// GroupCmd runs the command line's group commands as a device's groups,
// showing what they did on Out.
type GroupCmd struct {
	G   *Groups
	Out display.Output
}

func (x GroupCmd) info(ctx context.Context, g *group.Group, old bool, withContacts bool) GroupInfo {
	cl := x.G.C
	if !withContacts {
		cl = nil
	}
	return Info(ctx, x.G.home.Keystore(), g, old, cl)
}

// find finds GROUP (a name or an ID) among the device's groups; a group of
// the old kind is refused.
func (x GroupCmd) find(arg string) (*group.Group, error) {
	g, _, err := x.G.Find(arg)
	return g, err
}

// CheckCreate checks a group's name and first members before anything is
// asked of the network.
func CheckCreate(name string, invitees []group.Invitee) error {
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return errkind.Invalidf("a group name is 1-100 bytes")
	}
	if len(invitees)+1 > group.MaxMembers {
		return errkind.Invalidf("%d members: %v", len(invitees)+1, group.ErrTooMany)
	}
	return nil
}

// Create creates a group and invites its first members (CheckCreate).
func (x GroupCmd) Create(ctx context.Context, name string, invitees []group.Invitee) error {
	g, err := x.G.Device.Create(ctx, name, invitees)
	if err != nil {
		return err
	}
	return x.Out.Show(x.info(ctx, g, false, false), func(io.Writer) error {
		return x.Out.Printf("created group %q: %s\n%s invited; each joins with 'sessionctl group join %s --as NAME'\n",
			g.Name, g.ID, display.Plural(len(invitees), "member"), name)
	})
}

// MemberOptions are what the member commands may do beside.
type MemberOptions struct {
	History        bool // add: give them the group's keys so far
	DeleteMessages bool // kick: delete what they wrote, for everyone
}

// Members adds, kicks or promotes (what) members of GROUP.
func (x GroupCmd) Members(ctx context.Context, what, arg string, invitees []group.Invitee, o MemberOptions) error {
	if len(invitees) == 0 {
		return errkind.Invalidf("group %s: no MEMBER given", what)
	}
	if what == "promote" && len(invitees) != 1 {
		return errkind.Invalidf("group promote takes one MEMBER")
	}
	var ids []identity.AccountID
	var who []string
	for _, m := range invitees {
		ids, who = append(ids, m.ID), append(who, m.ID.String())
	}
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	switch what {
	case "add":
		err = x.G.Add(ctx, g, invitees, o.History)
	case "kick":
		err = x.G.Kick(ctx, g, ids, o.DeleteMessages)
	case "promote":
		err = x.G.Promote(ctx, g, ids[0])
	default:
		err = fmt.Errorf("group: no member command %q", what)
	}
	if err != nil {
		return err
	}
	switch what {
	case "add":
		how := "the key rotated to generation " + fmt.Sprint(g.Generation) + ": they read from it on"
		if o.History {
			how = "given the group's keys so far: they read its history"
		}
		return x.Out.Printf("invited %s to %q (%s)\n", strings.Join(who, ", "), g.Name, how)
	case "kick":
		return x.Out.Printf("removed %s from %q: token revoked, key rotated to generation %d\n", strings.Join(who, ", "), g.Name, g.Generation)
	}
	return x.Out.Printf("%s is now an admin of %q (the group's key was sent)\n", who[0], g.Name)
}

// Join accepts the invite to GROUP.
func (x GroupCmd) Join(ctx context.Context, arg string) error {
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	if err := x.G.Device.Join(ctx, g); err != nil {
		return err
	}
	return x.Out.Printf("joined %q (%s): key generation %d, %s\n", g.Name, g.ID, g.Generation, display.Plural(len(g.MemberList()), "member"))
}

// Leave leaves GROUP (declines its invite; forgets one of the old kind).
func (x GroupCmd) Leave(ctx context.Context, arg string) error {
	g, old, err := x.G.Find(arg)
	if err != nil && !old {
		return err
	}
	invited, gone := g.Invited, g.Kicked || g.Destroyed
	if err := x.G.Device.Leave(ctx, g, old); err != nil {
		return err
	}
	switch {
	case old:
		return x.Out.Printf("left %q, a group of the old kind: forgotten here\n", g.Name)
	case invited:
		return x.Out.Printf("declined the invite to %q\n", g.Name)
	case gone:
		return x.Out.Printf("forgot %q\n", g.Name)
	}
	return x.Out.Printf("left %q; an admin's next fetch removes you and rotates the key\n", g.Name)
}

// Delete deletes GROUP for everyone.
func (x GroupCmd) Delete(ctx context.Context, arg string) error {
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	if err := x.G.Device.Delete(ctx, g); err != nil {
		return err
	}
	return x.Out.Printf("deleted %q for everyone\n", g.Name)
}

// Rename renames GROUP.
func (x GroupCmd) Rename(ctx context.Context, arg, name string) error {
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	if err := x.G.Device.Rename(ctx, g, name); err != nil {
		return err
	}
	return x.Out.Printf("renamed the group %q\n", g.Name)
}

// Send posts text to GROUP.
func (x GroupCmd) Send(ctx context.Context, arg, text string) error {
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	if err := x.G.Device.Send(ctx, g, text); err != nil {
		return err
	}
	return x.Out.Show(map[string]any{"group": g.Name, "group_id": g.ID, "generation": g.Generation}, func(io.Writer) error {
		return x.Out.Printf("sent to %q (key generation %d)\n", g.Name, g.Generation)
	})
}

// Fetch reads GROUP's new messages.
func (x GroupCmd) Fetch(ctx context.Context, arg string) error {
	g, err := x.find(arg)
	if err != nil {
		return err
	}
	msgs, bad, err := x.G.Device.Fetch(ctx, g)
	if err != nil {
		return err
	}
	return x.Out.Show(struct {
		Messages   []group.Message    `json:"messages"`
		Unreadable []group.Unreadable `json:"unreadable,omitempty"`
	}{msgs, bad}, func(w io.Writer) error {
		WriteGroupMessages(w, x.Out.Err, msgs, bad, MemberNames(ctx, x.G.home.Keystore(), g, x.G.C))
		return nil
	})
}

// Info shows GROUP: its members as its members config lists them (read
// anew), its admins, key generation and revoked tokens.
func (x GroupCmd) Info(ctx context.Context, arg string) error {
	g, old, err := x.G.Find(arg)
	if err != nil && !old {
		return err
	}
	if !old && !g.Invited && !g.Kicked && !g.Destroyed {
		// Every member reads the members config: the list is the group's.
		if err := x.G.Refresh(ctx, g); err != nil && !errors.Is(err, group.ErrKicked) && !errors.Is(err, group.ErrDestroyed) {
			return err
		}
	}
	return ShowInfo(x.Out, x.info(ctx, g, old, true))
}

// ShowInfo shows a group's info.
func ShowInfo(out display.Output, info GroupInfo) error {
	return out.Show(info, func(w io.Writer) error { WriteInfo(w, info); return nil })
}

// List lists the device's groups, and the invites it received.
func (x GroupCmd) List(ctx context.Context) error {
	all, err := x.G.Store.List(x.G.Name, x.G.C.AccountID().String())
	if err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	if x.Out.JSON {
		out := []GroupInfo{}
		for _, e := range all {
			out = append(out, x.info(ctx, e.Group, e.Old, false))
		}
		return display.JSON(x.Out.W, map[string]any{"groups": out})
	}
	if len(all) == 0 {
		return x.Out.Printf("no groups\n")
	}
	tw := tabwriter.NewWriter(x.Out.W, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGROUP ID\tMEMBERS\tGENERATION\tROLE")
	for _, e := range all {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", display.Escape(e.Name), e.ID, len(e.MemberList()), e.Generation, Role(e.Group, e.Old))
	}
	return tw.Flush()
}
