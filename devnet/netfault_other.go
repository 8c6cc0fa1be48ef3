//go:build !linux

package devnet

import (
	"context"
	"errors"
)

func netFaults([]string) string { return "it needs Linux (network namespaces)" }

func netFault(context.Context, string, bool, string) (func(context.Context) error, error) {
	return nil, errors.New(netFaults(nil))
}

func hostIP(context.Context, string) string { return "" }
