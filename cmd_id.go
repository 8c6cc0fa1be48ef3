package main

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/urfave/cli/v2"
)

// dirOf is the devnet directory of --dir.
func dirOf(c *cli.Context) devnet.Dir { return devnet.Dir(c.String(dirFlag.Name)) }

// keystore returns the keystore under --dir.
func keystore(c *cli.Context) *identity.Keystore { return dirOf(c).Keystore() }

func idCommand() *cli.Command {
	nameFlag := &cli.StringFlag{Name: "name", Usage: "store the identity as `NAME` (default: id- and the start of its Account ID)"}
	return &cli.Command{
		Name:  "id",
		Usage: "create, restore and inspect Session identities (the keystore under --dir)",
		Subcommands: []*cli.Command{
			{
				Name:      "new",
				Usage:     "create an identity with a new 13-word recovery phrase",
				ArgsUsage: " ",
				Flags:     []cli.Flag{nameFlag, jsonFlag},
				Action: func(c *cli.Context) error {
					k, err := identity.NewAccount(rand.Reader)
					if err != nil {
						return err
					}
					return storeIdentity(c, k)
				},
			},
			{
				Name:      "restore",
				Usage:     "restore an identity from its recovery phrase",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "phrase", Usage: "the 13-word recovery `PHRASE` (required)", EnvVars: []string{"SESSIONCTL_PHRASE"}},
					nameFlag, jsonFlag,
				},
				Action: func(c *cli.Context) error {
					if !c.IsSet("phrase") {
						return errkind.Invalidf("--phrase is required: the 13 words of the recovery phrase, in quotes")
					}
					k, err := identity.AccountFromPhrase(c.String("phrase"))
					if err != nil {
						return errkind.Invalidf("recovery phrase: %w", err)
					}
					// The phrase of an account already here, under another
					// name: a second device, as the apps link one.
					if e, err := keystore(c).FindAccount(k.AccountID()); err == nil && c.IsSet("name") && c.String("name") != e.Name {
						return linkDevice(c, e, c.String("name"))
					}
					return storeIdentity(c, k)
				},
			},
			{
				Name:      "show",
				Usage:     "show an identity of the keystore, or what an Account ID tells",
				ArgsUsage: "NAME|ACCOUNT_ID",
				Flags: []cli.Flag{jsonFlag, &cli.StringFlag{Name: "community-pubkey",
					Usage: "also print the 15-blinded IDs a community server with this X25519 key (`HEX`) sees"},
					&cli.BoolFlag{Name: "phrase", Usage: "also print the recovery phrase (it alone restores the account: keep it secret)"}},
				Action: idShow,
			},
			{
				Name:      "link",
				Usage:     "make another device of an identity: the same account, with its own state (what it read, what it sent)",
				ArgsUsage: "NAME",
				Description: "Every send also stores a copy in the sender's own swarm, so 'fetch --as DEVICE' shows what the\n" +
					"account received and what its other devices sent. 'id restore --phrase P --name DEVICE' of an account\n" +
					"already here does the same.",
				Flags: []cli.Flag{&cli.StringFlag{Name: "name", Usage: "the device's `NAME` (required)"}, jsonFlag},
				Action: func(c *cli.Context) error {
					name := c.Args().First()
					if c.String("name") == "" {
						return errkind.Invalidf("id link needs --name DEVICE: the new device's name")
					}
					e, err := keystore(c).Get(name)
					if err != nil {
						return err
					}
					return linkDevice(c, e, c.String("name"))
				},
			},
			{
				Name:      "ls",
				Usage:     "list the identities of the keystore",
				ArgsUsage: " ",
				Flags:     []cli.Flag{jsonFlag},
				Action:    idList,
			},
		},
	}
}

func storeIdentity(c *cli.Context, k *identity.Keys) error {
	name := c.String("name")
	if name == "" {
		name = "id-" + k.AccountID().String()[2:10]
	}
	e, err := keystore(c).Create(name, k)
	if err != nil {
		return err
	}
	log := logger(c)
	log.Info().Str("name", e.Name).Str("account_id", k.AccountID().String()).Msg("identity stored")
	return output(c).Show(display.IdentityOf(e, true), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "identity:        %s\naccount ID:      %s\nrecovery phrase: %s\n"+
			"Write the recovery phrase down and keep it secret: it alone restores this account.\n", e.Name, k.AccountID(), k.Phrase())
		return err
	})
}

// linkDevice stores device as another device of e's account.
func linkDevice(c *cli.Context, e *identity.Entry, device string) error {
	d, err := keystore(c).Link(device, e)
	if err != nil {
		return err
	}
	log := logger(c)
	log.Info().Str("name", d.Name).Str("device_of", d.DeviceOf).Msg("device linked")
	return output(c).Show(display.IdentityOf(d, false), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "device %s of %s (account %s): 'fetch --as %s' reads the account's messages and what its other devices sent\n",
			d.Name, d.DeviceOf, d.Keys.AccountID(), d.Name)
		return err
	})
}

func idShow(c *cli.Context) error {
	out, err := display.LookupIdentity(keystore(c), c.Args().First(), c.Bool("phrase"), c.String("community-pubkey"))
	if err != nil || c.Bool("json") {
		return orJSON(c, out, err)
	}
	return out.WriteText(c.App.Writer)
}

func idList(c *cli.Context) error {
	all, err := keystore(c).List()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := []display.Identity{}
		for _, e := range all {
			out = append(out, display.IdentityOf(e, false))
		}
		return display.JSON(c.App.Writer, map[string]any{"identities": out})
	}
	if len(all) == 0 {
		fmt.Fprintf(c.App.Writer, "no identities in %s; create one with 'sessionctl id new --name alice'\n", keystore(c).Dir())
		return nil
	}
	return display.WriteIdentities(c.App.Writer, all)
}
