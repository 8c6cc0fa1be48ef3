//go:build !linux

package devnet

import (
	"context"
	"errors"
)

// DiskFaults says why disk faults cannot be made here.
func (nw *Network) DiskFaults() string { return "it needs Linux (a loop-mounted file system image)" }

// DiskFault is not made here (DiskFaults).
func (nw *Network) DiskFault(context.Context, int, bool) (func(context.Context) error, error) {
	return nil, errors.New(nw.DiskFaults())
}
