package chain

// LastChanged finds, among rounds (newest first, as the ledger remembers
// them), the newest that changed a node's state: target's, unless "".
func LastChanged(rounds []Round, target string) (Round, bool) {
	for _, r := range rounds {
		for _, ch := range r.Changes {
			if target == "" || ch.Target == target {
				return r, true
			}
		}
	}
	return Round{}, false
}

// LastTallied finds, among rounds (newest first), the newest tallied round
// that has votes.
func LastTallied(rounds []Round) (Round, bool) {
	for _, r := range rounds {
		if len(r.Votes) > 0 && r.Tallied {
			return r, true
		}
	}
	return Round{}, false
}
