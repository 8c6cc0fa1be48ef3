package freeports

import (
	"net"
	"strconv"
	"testing"
)

func TestRun(t *testing.T) {
	base, err := Run(5)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
		if err != nil {
			t.Fatalf("port %d of %d: %v", i, base, err)
		}
		l.Close()
	}
	if _, err := Run(0); err == nil {
		t.Fatal("0 ports taken")
	}
}
