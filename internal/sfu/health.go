package sfu

import "time"

const (
	// minPackets is the fewest packets in an interval for loss and NACK
	// rates to mean anything.
	minPackets = 20
	// rembFresh is how long a REMB estimate counts.
	rembFresh = 5 * time.Second
)

// sampleHealth measures the peer's last interval as a subscriber, feeds
// the ladder and applies its choice. It also asks again for a keyframe for
// video still waiting for one (the first request may have been lost).
// Called by the node's health loop only.
func (p *Peer) sampleHealth(now time.Time) {
	p.subMu.Lock()
	if p.closed {
		p.subMu.Unlock()
		return
	}
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.subMu.Unlock()

	var sent, bytes, nacked, twccTotal, twccLost uint64
	var lost uint32
	for _, d := range downs {
		sent += d.ivPackets.Swap(0)
		bytes += d.ivBytes.Swap(0)
		nacked += d.ivNacked.Swap(0)
		twccTotal += d.ivTWCCTotal.Swap(0)
		twccLost += d.ivTWCCLost.Swap(0)
		lost = max(lost, d.ivLost.Swap(0))
		if d.kind.video() && d.waiting() {
			d.up.requestKeyframe()
		}
	}
	p.healthMu.Lock()
	elapsed := now.Sub(p.lastSample)
	first := p.lastSample.IsZero()
	p.lastSample = now
	p.healthMu.Unlock()
	if first || elapsed <= 0 {
		return
	}
	s := Sample{At: now, Loss: float64(lost) / 256}
	if twccTotal >= minPackets {
		s.Loss = max(s.Loss, float64(twccLost)/float64(twccTotal))
	}
	if sent >= minPackets {
		s.NACKRate = float64(nacked) / float64(sent)
	}
	s.Bitrate = int64(float64(bytes*8) / elapsed.Seconds())
	if at := p.rembAt.Load(); at != 0 && now.Sub(time.Unix(0, at)) < rembFresh {
		s.Estimate = p.remb.Load()
	}
	p.observe(s)
}

// observe feeds one sample to the ladder and applies its choice.
func (p *Peer) observe(s Sample) {
	p.healthMu.Lock()
	m, changed := p.ladder.observe(s)
	p.healthMu.Unlock()
	if !changed {
		return
	}
	p.node.log.Info("subscriber mode", "peer", p.id, "mode", m, "loss", s.Loss, "nack_rate", s.NACKRate, "estimate", s.Estimate, "bitrate", s.Bitrate)
	p.subMu.Lock()
	p.autoMode = m
	p.subMu.Unlock()
	p.applyMode()
}
