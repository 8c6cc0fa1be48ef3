package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/urfave/cli/v2"
)

func communityCommand() *cli.Command {
	f := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{asFlag, ledgerURLFlag, ledgerTokenFlag}, extra...)
	}
	return &cli.Command{
		Name:  "community",
		Usage: "the devnet's community server: rooms, posts, moderators, bans, message requests",
		Subcommands: []*cli.Command{
			{Name: "rooms", Usage: "the rooms", ArgsUsage: " ", Flags: f(jsonFlag), Action: communityRooms},
			{Name: "post", Usage: "post to a room", ArgsUsage: "ROOM TEXT", Flags: f(), Action: communityPost},
			{Name: "read", Usage: "a room's messages", ArgsUsage: "ROOM", Flags: f(jsonFlag, &cli.Int64Flag{Name: "since", Usage: "messages after sequence number `N`"}), Action: communityRead},
			{Name: "delete", Usage: "delete a message (its author or a moderator)", ArgsUsage: "ROOM MESSAGE_ID", Flags: f(), Action: communityDelete},
			{
				Name: "mod", Usage: "moderators",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "make a user a moderator of a room (admins)", ArgsUsage: "ROOM ID", Flags: f(&cli.BoolFlag{Name: "admin", Usage: "an admin, not only a moderator"}), Action: communityMod(true)},
					{Name: "remove", Usage: "take a moderator's rights away (admins)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityMod(false)},
				},
			},
			{Name: "ban", Usage: "ban a user from a room (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityBan(true)},
			{Name: "unban", Usage: "lift a ban (moderators)", ArgsUsage: "ROOM ID", Flags: f(), Action: communityBan(false)},
			{Name: "dm", Usage: "send a message request to a user of the server", ArgsUsage: "ID TEXT", Flags: f(), Action: communityDM},
			{Name: "inbox", Usage: "your message requests", ArgsUsage: " ", Flags: f(jsonFlag), Action: communityInbox},
			{
				Name: "room", Usage: "rooms of the server (its operator's commands)",
				Subcommands: []*cli.Command{
					{Name: "add", Usage: "create a room", ArgsUsage: "TOKEN", Flags: []cli.Flag{&cli.StringFlag{Name: "name", Usage: "the room's `NAME`"}}, Action: communityRoomAdd},
				},
			},
		},
	}
}

// communityServer returns the devnet's community server, from its manifest.
func communityServer(c *cli.Context) (client.ServerInfo, error) {
	m, err := devnet.ReadManifest(c.String(dirFlag.Name))
	if err != nil {
		return client.ServerInfo{}, notRunning(fmt.Errorf("no devnet is running under %s; start one with 'sessionctl devnet up'", c.String(dirFlag.Name)))
	}
	for _, s := range m.Servers {
		if s.Kind == "community" {
			k, err := hex.DecodeString(s.X25519Pubkey)
			if err != nil || len(k) != 32 {
				return client.ServerInfo{}, errors.New("the manifest's community server key is malformed")
			}
			return client.ServerInfo{URL: s.URL, X25519: [32]byte(k)}, nil
		}
	}
	return client.ServerInfo{}, errors.New("the devnet runs no community server")
}

// communityClient starts a client for --as (default: the keystore's first identity).
func communityClient(c *cli.Context) (*client.Client, client.ServerInfo, func(), error) {
	srv, err := communityServer(c)
	if err != nil {
		return nil, srv, nil, err
	}
	name := c.String("as")
	if name == "" {
		all, err := keystore(c).List()
		if err != nil || len(all) == 0 {
			return nil, srv, nil, usagef("--as NAME is required")
		}
		name = all[0].Name
	}
	cl, _, err := startClient(c, name, "")
	if err != nil {
		return nil, srv, nil, err
	}
	return cl, srv, func() { cl.Close() }, nil
}

// call sends one request and maps the server's refusals to exit code 2.
func communityCall(c *cli.Context, cl *client.Client, srv client.ServerInfo, method, path string, body any) ([]byte, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	code, out, err := community.Request(ctx, cl, srv, method, path, b)
	if err != nil {
		return nil, clientError(err)
	}
	if code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(out, &e)
		if e.Error == "" {
			e.Error = string(out)
		}
		return nil, usageError(fmt.Errorf("the community server refused (%d): %s", code, e.Error))
	}
	return out, nil
}

// blindedID reads an ID argument: a 15-blinded ID, or an identity of the
// keystore, blinded for the server.
func blindedID(c *cli.Context, srv client.ServerInfo, arg string) (string, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		if err != nil {
			return "", usageError(err)
		}
		if id.Prefix == identity.PrefixSession {
			ids, err := identity.BlindedIDs(id, srv.X25519[:])
			if err != nil {
				return "", usageError(err)
			}
			return ids[0], nil
		}
		return arg, nil
	}
	e, err := keystore(c).Get(arg)
	if err != nil {
		return "", keystoreError(err)
	}
	b, err := identity.Blind15(e.Keys, srv.X25519[:])
	if err != nil {
		return "", err
	}
	return b.ID(), nil
}

func communityRooms(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	out, err := communityCall(c, cl, srv, "GET", "/rooms", nil)
	if err != nil {
		return err
	}
	var rooms []struct {
		Token     string   `json:"token"`
		Name      string   `json:"name"`
		Seqno     int64    `json:"message_sequence"`
		Moderator bool     `json:"moderator"`
		Mods      []string `json:"moderators"`
	}
	json.Unmarshal(out, &rooms)
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"rooms": json.RawMessage(out)})
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROOM\tNAME\tMESSAGES\tMODERATORS\tYOU MODERATE")
	for _, r := range rooms {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\n", r.Token, r.Name, r.Seqno, len(r.Mods), r.Moderator)
	}
	return tw.Flush()
}

func twoArgs(c *cli.Context, a, b string) (string, string, error) {
	if c.NArg() != 2 {
		return "", "", usagef("%s takes two arguments, %s and %s", c.Command.FullName(), a, b)
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

func communityPost(c *cli.Context) error {
	room, text, err := twoArgs(c, "ROOM", "TEXT")
	if err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	body, err := community.Post(cl, srv, text)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, time.Minute)
	defer cancel()
	code, out, err := community.Request(ctx, cl, srv, "POST", "/room/"+url.PathEscape(room)+"/message", body)
	if err != nil {
		return clientError(err)
	}
	if code != 201 {
		var e struct{ Error string }
		json.Unmarshal(out, &e)
		return usageError(fmt.Errorf("the community server refused (%d): %s", code, e.Error))
	}
	var m community.Message
	json.Unmarshal(out, &m)
	fmt.Fprintf(c.App.Writer, "posted message %d in %s as %s\n", m.ID, room, m.SessionID)
	return nil
}

func communityRead(c *cli.Context) error {
	room, err := oneArg(c, "ROOM")
	if err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	out, err := communityCall(c, cl, srv, "GET", fmt.Sprintf("/room/%s/messages/since/%d?limit=256", url.PathEscape(room), c.Int64("since")), nil)
	if err != nil {
		return err
	}
	var msgs []community.Message
	json.Unmarshal(out, &msgs)
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"messages": msgs})
	}
	names := blindedNames(c, srv)
	for _, m := range msgs {
		if m.Deleted {
			fmt.Fprintf(c.App.Writer, "#%d (deleted)\n", m.ID)
			continue
		}
		data, _ := base64.StdEncoding.DecodeString(*m.Data)
		fmt.Fprintf(c.App.Writer, "#%d %s: %s\n", m.ID, nameOr(names, m.SessionID), data)
	}
	if len(msgs) == 0 {
		fmt.Fprintln(c.App.Writer, "no messages")
	}
	return nil
}

// blindedNames maps the keystore identities' blinded IDs to their names.
func blindedNames(c *cli.Context, srv client.ServerInfo) map[string]string {
	out := map[string]string{}
	if all, err := keystore(c).List(); err == nil {
		for _, e := range all {
			if b, err := identity.Blind15(e.Keys, srv.X25519[:]); err == nil {
				out[b.ID()] = e.Name
			}
		}
	}
	return out
}

func communityDelete(c *cli.Context) error {
	room, id, err := twoArgs(c, "ROOM", "MESSAGE_ID")
	if err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	if _, err := communityCall(c, cl, srv, "DELETE", "/room/"+url.PathEscape(room)+"/message/"+url.PathEscape(id), nil); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "deleted message %s from %s\n", id, room)
	return nil
}

// communityUserAct is a command on ROOM and a user's ID: it sends method
// path(id) with body(room) and prints done(id).
func communityUserAct(path func(id string) string, body func(c *cli.Context, room string) any, done func(id, room string) string) cli.ActionFunc {
	return func(c *cli.Context) error {
		room, who, err := twoArgs(c, "ROOM", "ID")
		if err != nil {
			return err
		}
		cl, srv, stop, err := communityClient(c)
		if err != nil {
			return err
		}
		defer stop()
		id, err := blindedID(c, srv, who)
		if err != nil {
			return err
		}
		if _, err := communityCall(c, cl, srv, "POST", path(id), body(c, room)); err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, done(id, room))
		return nil
	}
}

func communityMod(add bool) cli.ActionFunc {
	return communityUserAct(
		func(id string) string { return "/user/" + id + "/moderator" },
		func(c *cli.Context, room string) any {
			return map[string]any{"rooms": []string{room}, "moderator": add, "admin": add && c.Bool("admin")}
		},
		func(id, room string) string { return fmt.Sprintf("%s: moderator of %s: %v", id, room, add) })
}

func communityBan(on bool) cli.ActionFunc {
	verb := map[bool]string{true: "ban", false: "unban"}[on]
	return communityUserAct(
		func(id string) string { return "/user/" + id + "/" + verb },
		func(c *cli.Context, room string) any { return map[string]any{"rooms": []string{room}} },
		func(id, room string) string { return fmt.Sprintf("%s: banned from %s: %v", id, room, on) })
}

func communityDM(c *cli.Context) error {
	who, text, err := twoArgs(c, "ID", "TEXT")
	if err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	id, err := blindedID(c, srv, who)
	if err != nil {
		return err
	}
	if _, err := communityCall(c, cl, srv, "POST", "/inbox/"+id, map[string]string{"message": base64.StdEncoding.EncodeToString([]byte(text))}); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "message request sent to %s\n", id)
	return nil
}

func communityInbox(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cl, srv, done, err := communityClient(c)
	if err != nil {
		return err
	}
	defer done()
	out, err := communityCall(c, cl, srv, "GET", "/inbox", nil)
	if err != nil {
		return err
	}
	var dms []community.DM
	json.Unmarshal(out, &dms)
	if c.Bool("json") {
		return printJSON(c.App.Writer, map[string]any{"messages": dms})
	}
	names := blindedNames(c, srv)
	for _, d := range dms {
		m, _ := base64.StdEncoding.DecodeString(d.Message)
		fmt.Fprintf(c.App.Writer, "from %s: %s\n", nameOr(names, d.Sender), m)
	}
	if len(dms) == 0 {
		fmt.Fprintln(c.App.Writer, "no message requests")
	}
	return nil
}

func communityRoomAdd(c *cli.Context) error {
	token, err := oneArg(c, "the room TOKEN")
	if err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	if err := cc.AddRoom(c.Context, token, c.String("name")); err != nil {
		return usageError(err)
	}
	fmt.Fprintf(c.App.Writer, "room %s created\n", token)
	return nil
}
