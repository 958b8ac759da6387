package sfu

// Observe feeds one congestion sample to p's ladder, as the health loop
// does each second (for tests that drive the ladder through a peer).
func (p *Peer) Observe(s Sample) { p.observe(s) }
