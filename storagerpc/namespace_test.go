package storagerpc

import "testing"

// TestNamespaceTTL: as the storage server, the public inboxes (multiples
// of 10) keep messages at most 14 days; every other namespace, an
// account's configs and a closed group's keys, info, members and messages
// alike, 30 (request_handler.cpp: TTL_MAXIMUM, TTL_MAXIMUM_PRIVATE).
func TestNamespaceTTL(t *testing.T) {
	for ns, long := range map[Namespace]bool{0: false, -10: false, 20: false, 2: true, 5: true, 11: true, 12: true, 13: true, 14: true, -11: true, 1: true} {
		if ns.IsConfig() != long {
			t.Errorf("namespace %d: IsConfig %v", ns, ns.IsConfig())
		}
	}
}
