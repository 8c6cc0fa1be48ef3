package devnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// startTraffic makes the clients exchange messages in the background, a
// message every two seconds or so, and fetch theirs, so there is activity to
// watch in the logs and the nodes.
func (d *Devnet) startTraffic() {
	ctx, cancel := context.WithCancel(context.Background())
	d.traffic = cancel
	names := d.st.Clients
	if len(names) < 2 {
		return
	}
	log := d.cfg.Logs("traffic")
	lc := ledgerrpc.NewClient(d.Network.LedgerURL(), "")
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		var clients []*client.Client
		for _, n := range names {
			if c, err := StartClient(ctx, "", client.Config{Keys: ClientKeys(d.st.Seed, n), Ledger: lc, Logger: log}); err == nil {
				defer c.Close()
				clients = append(clients, c)
			}
		}
		if len(clients) < 2 {
			return
		}
		for i := 0; ctx.Err() == nil; i++ {
			from := rand.IntN(len(clients))
			to := (from + 1 + rand.IntN(len(clients)-1)) % len(clients)
			text := fmt.Sprintf("traffic message %d from %s to %s", i, names[from], names[to])
			res, err := clients[from].Send(ctx, clients[to].AccountID(), text)
			switch {
			case err == nil:
				d.dash.sent(SentReportOf(names[from], res))
			case ctx.Err() == nil:
				log.Warn().Err(err).Msg("traffic send")
			}
			if _, _, err := clients[to].Fetch(ctx); err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("traffic fetch")
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(1500+rand.IntN(1000)) * time.Millisecond):
			}
		}
	}()
}

// introduceClients makes the devnet's clients contacts of one another, in
// each one's contacts config, when the devnet is made: they are the cast
// of its demos and know each other, so their messages arrive as usual. An
// identity made later ('id new') is a stranger to them: its first message
// is a message request. A failure is returned (and logged by the caller):
// the clients then see each other's first messages as requests.
func (d *Devnet) introduceClients(ctx context.Context) error {
	names := d.st.Clients
	if len(names) < 2 {
		return nil
	}
	log := d.cfg.Logs("devnet")
	lc := ledgerrpc.NewClient(d.Network.LedgerURL(), "")
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			errs <- func() error {
				c, err := StartClient(ctx, "", client.Config{Keys: ClientKeys(d.st.Seed, n), Ledger: lc, Logger: log})
				if err != nil {
					return err
				}
				defer c.Close()
				_, _, err = c.UpdateConfig(ctx, configmsg.Contacts, 0, func(dict configmsg.Dict) error {
					for _, other := range names {
						if other == n {
							continue
						}
						ct := configmsg.Contact{ID: ClientKeys(d.st.Seed, other).AccountID().String(), Name: other,
							Approved: true, ApprovedMe: true, Created: time.Now().Unix()}
						if err := configmsg.SetContact(dict, ct); err != nil {
							return err
						}
					}
					return nil
				})
				return err
			}()
		}()
	}
	var all []error
	for range names {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// introduceWhenNodes introduces the clients of a devnet without nodes of
// its own once MinNodes nodes are active (until then the configs have no
// swarm to go to), trying again every few blocks until it is done or the
// devnet stops. A devnet stopped before is resumed without it: its clients
// see each other's first messages as requests.
func (d *Devnet) introduceWhenNodes(ctx context.Context) {
	l, log := d.Network.Ledger, d.cfg.Logs("devnet")
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		next := l.Info().Height + 1
		for ctx.Err() == nil {
			if _, err := l.WaitHeight(ctx, next); err != nil {
				return
			}
			next++
			if l.Info().ActiveNodes < MinNodes {
				continue
			}
			err := d.introduceClients(ctx)
			if err == nil {
				log.Info().Msg("the clients were introduced to each other, now that nodes joined")
				return
			}
			log.Debug().Err(err).Msg("introduce the clients: again in 5 blocks")
			next += 4
		}
	}()
}
