package devnettest

import (
	"net/url"
	"strconv"
	"syscall"
	"testing"
)

// KillListener kills, from inside the test, the listening socket of this
// process at rawURL's port, as a server whose listener died: shutdown(2)
// on a listening socket makes its accept fail (on Linux; elsewhere it does
// not wake the accept, so this helper is Linux's).
func KillListener(t testing.TB, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	for fd := 0; fd < 1<<16; fd++ {
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			continue
		}
		in4, ok := sa.(*syscall.SockaddrInet4)
		if !ok || in4.Port != port {
			continue
		}
		if v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		if err := syscall.Shutdown(fd, syscall.SHUT_RDWR); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no listening socket at %s", rawURL)
}
