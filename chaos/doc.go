// Package chaos runs a devnet through a random, reproducible schedule of
// faults under traffic, records every operation with its outcome, and
// checks the whole history afterwards: the Jepsen treatment for a
// messaging network. `sessionctl chaos` runs it against a devnet, and CI
// runs it for a minute at 12 nodes.
//
// # Design
//
// A run has four parts.
//
// The plan (Plan, from Config.Seed alone): math/rand/v2's PCG seeded with
// the seed draws the fault timeline (when, which kind, which nodes by
// index or by their place in an account's swarm, for how long) and each
// client's sequence of operations. The same seed gives the same plan on
// any machine, so a failing run is replayed with its seed; what the
// network answers (and when) is the run's own.
//
// The traffic: Config.Clients accounts made for this run (their keys from
// a fresh run ID, so no run reads another's messages), each with two
// devices (two clients of one account, each with its own state) and a
// device for its groups. Each account's worker does what the plan says:
// one-to-one messages, some with an attachment; unsends of its own
// messages; profile changes from either device (the user profile config);
// posts in the community's lobby; messages in a closed group that the
// first account administers, which it grows by adding guest accounts and
// shrinks by kicking them; and fetches. Each operation is recorded with
// its outcome: acknowledged (the network said it was done), refused (it
// said no), or unknown (no answer before the operation's timeout: it may
// have happened). Every message a device shows is recorded too, with the
// operation its text names.
//
// The faults, through a Target (the devnet: package devnet implements it
// in-process and through a devnet's control endpoint): nodes killed and
// restarted (several at once; a whole swarm but one member; a member
// killed just before the network is asked to kick, unsend or change a
// config that its swarm holds, and restarted after), and what else the
// Target makes (Target.Supports says which, or why not): node processes
// SIGKILLed, the devnet SIGKILLed and resumed, a node's clock moved within
// and beyond the ±60 s window, its disk filled or its data directory made
// read-only, a host cut off or its links slowed. The plan makes every kind
// once first, then any. Each is a FaultEvent in the history, from start to
// heal; a run whose network is gone at the end is not checked (Aborted).
//
// The check (Check), when every fault is healed and the devices have read
// what they can: every acknowledged message is shown exactly once by each
// of its recipient's devices and by the sender's other device (and each
// group message by each member); a message whose unsend was acknowledged
// is never shown by a fetch begun after that; a kicked member is refused
// by every node of the group's swarm, and shows no group message sent
// after the kick; each account's devices converge to the same configs;
// every node reaches the ledger's head; nothing unacknowledged is shown
// twice. Each Violation names the property and the operations (and the
// shown records) that prove it. Check is a pure function of the History:
// its tests feed it broken networks (node.Faults, client.Faults) and see
// it name each property.
//
// # Use
//
//	rep, err := chaos.Run(ctx, chaos.Config{Target: t, Seed: 42, Duration: time.Minute, Clients: 4})
//	rep.WriteText(os.Stdout)   // the fault timeline, counts by outcome, violations, the seed
//	if len(rep.Violations) > 0 { ... }
package chaos
