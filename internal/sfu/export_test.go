package sfu

// Observe feeds one congestion sample to p's ladder, as the health loop
// does each second (for tests that drive the ladder through a peer).
func (p *Peer) Observe(s Sample) { p.observe(s) }

// DropPackets counts k packets dropped by the fan-out, as a worker whose
// queue is full does, and WatchOverload runs the health loop's overload
// check at the node's clock.
func (n *Node) DropPackets(k uint64) { n.stats.dropped.Add(k); n.stats.overflowed.Add(k) }
func (n *Node) WatchOverload()       { n.watchOverload(n.cfg.Now()) }
