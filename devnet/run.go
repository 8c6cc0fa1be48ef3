package devnet

import (
	"context"
	"errors"
	"fmt"
)

// Running a part until it is stopped. Every way a part of a devnet runs on
// its own (`devnet up`, `ledger serve`, `node run`) has the same shape,
// after etcd's etcdmain:
//
//	part, err := devnet.Up(ctx, cfg)       // or ServeLedger, RunNode: ready when it returns
//	...                                    // its ready file is written: print how to use it
//	err = devnet.Wait(ctx, part, stop)     // a signal (ctx), a request (stop), or a failure
//	part.Close()                           // the ready file goes
//
// A part's ready file says it serves and how to reach it: its description
// as JSON with its pid, written atomically (0600) once it is ready and
// removed when it stops: devnet.json (Manifest), ledger/endpoint.json
// (LedgerEndpoint), DATA/node.json (NodeInfo).

// A Part is a long-lived part run until it is stopped: a Devnet, a
// LedgerServer, a NodeRunner.
type Part interface {
	// Err delivers a failure after start, and is closed by Close.
	Err() <-chan error
	Close() error
}

// Wait blocks until ctx ends (a signal), stop is closed (a request to stop;
// nil for none) or p fails; it returns p's failure, nil for the others.
// The caller then closes p.
func Wait(ctx context.Context, p Part, stop <-chan struct{}) error {
	select {
	case <-ctx.Done():
		return nil
	case <-stop:
		return nil
	case err, ok := <-p.Err():
		if !ok {
			return fmt.Errorf("devnet: %T closed while running", p)
		}
		return err
	}
}

// PartError is a part of a devnet that failed after start: the devnet
// cannot go on without it.
type PartError struct {
	Part string // "the ledger", "the ledger RPC", "the file server", ...
	Err  error
}

func (e *PartError) Error() string { return fmt.Sprintf("%s failed: %v", e.Part, e.Err) }
func (e *PartError) Unwrap() error { return e.Err }

// watchParts sends on errc the first failure of the named parts (as a
// *PartError, the innermost part's when one reports another's), or nothing
// if ctx ends first. A part whose channel closes (it was closed) is no
// failure.
func watchParts(ctx context.Context, errc chan<- error, parts map[string]<-chan error) {
	failed := make(chan error, len(parts))
	done := make(chan struct{})
	defer close(done)
	for name, c := range parts {
		go func() {
			select {
			case err, ok := <-c:
				var pe *PartError
				switch {
				case ok && errors.As(err, &pe):
					failed <- err
				case ok:
					failed <- &PartError{Part: name, Err: err}
				}
			case <-done:
			}
		}()
	}
	select {
	case err := <-failed:
		errc <- err
	case <-ctx.Done():
	}
}
