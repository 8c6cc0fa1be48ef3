// Package freeports finds ports free on 127.0.0.1 for tests of what
// listens at fixed ports (devnet up --base-port).
package freeports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Run returns a port P such that P to P+n-1 are free on 127.0.0.1 now. It
// looks below Linux's ephemeral range (32768 up), where the free ports that
// other tests' listeners take come from, so they are unlikely to be taken
// before the caller binds them.
func Run(n int) (int, error) {
	if n < 1 || n > 100 {
		return 0, fmt.Errorf("freeports: %d ports: want 1 to 100", n)
	}
	for try := 0; try < 100; try++ {
		base := 20000 + rand.IntN(12000)
		var held []net.Listener
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if len(held) == n {
			return base, nil
		}
	}
	return 0, fmt.Errorf("freeports: no %d free ports in a row", n)
}
