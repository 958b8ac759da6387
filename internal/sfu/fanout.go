package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// packetBufSize holds any RTP packet pion delivers (its receive MTU is
// 1460 bytes).
const packetBufSize = 1500

// packet is one RTP packet read from a publisher, parsed once and shared
// by every subscriber's write and by the track's retransmission buffer.
// It is reference counted and returns to a pool when the last holder
// releases it, so steady-state forwarding allocates nothing.
type packet struct {
	buf      [packetBufSize]byte
	rtp      rtp.Packet // Payload points into buf
	size     int
	keyframe bool
	refs     atomic.Int32
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet {
	p := packetPool.Get().(*packet)
	p.refs.Store(1)
	return p
}

func (p *packet) retain() { p.refs.Add(1) }

func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		packetPool.Put(p)
	}
}

// Fan-out. A track with few subscribers is written inline by the goroutine
// that reads it. Above inlineMax, its subscribers are spread over the
// node's workers, each downtrack pinned to one worker (so its packets stay
// in order), and each packet becomes one job per worker: the writes of
// hundreds of subscribers (SRTP encryption and a sendto each) run on every
// core instead of one goroutine. A worker whose queue is full drops the
// packet for its subscribers rather than stall the reader: they recover
// it by NACK from the track's buffer, and their loss shows in their
// receiver reports, which steps them down the ladder.
const (
	inlineMax = 20
	jobQueue  = 128
)

type job struct {
	p   *packet
	dts []*downTrack
}

type worker struct {
	jobs    chan job
	scratch rtp.Header
	out     flow
}

type fanout struct {
	workers []*worker
	stats   *counters
	wg      sync.WaitGroup
}

func newFanout(n int, stats *counters) *fanout {
	f := &fanout{workers: make([]*worker, n), stats: stats}
	for i := range f.workers {
		w := &worker{jobs: make(chan job, jobQueue)}
		f.workers[i] = w
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for j := range w.jobs {
				for _, d := range j.dts {
					d.forward(j.p, &w.scratch, &w.out)
				}
				j.p.release()
			}
		}()
	}
	return f
}

// dispatch hands p to the workers of set. Called by the track's reader.
func (f *fanout) dispatch(p *packet, set *fanSet) {
	for i, dts := range set.byWorker {
		if len(dts) == 0 {
			continue
		}
		p.retain()
		select {
		case f.workers[i].jobs <- job{p: p, dts: dts}:
		default:
			p.release()
			f.stats.dropped.Add(uint64(len(dts)))
			f.stats.overflowed.Add(uint64(len(dts)))
		}
	}
}

func (f *fanout) close() {
	for _, w := range f.workers {
		close(w.jobs)
	}
	f.wg.Wait()
}

// fanSet is a track's subscribers, immutable once published (copy on
// write): the reader loads it once per packet without a lock.
type fanSet struct {
	all      []*downTrack
	byWorker [][]*downTrack
}

// with returns a copy of s plus d, pinned to its least loaded worker.
func (s *fanSet) with(d *downTrack, workers int) *fanSet {
	ns := &fanSet{all: append(append([]*downTrack(nil), s.all...), d), byWorker: make([][]*downTrack, workers)}
	best := 0
	for i := range ns.byWorker {
		if i < len(s.byWorker) {
			ns.byWorker[i] = s.byWorker[i]
		}
		if len(ns.byWorker[i]) < len(ns.byWorker[best]) {
			best = i
		}
	}
	d.worker = best
	ns.byWorker[best] = append(append([]*downTrack(nil), ns.byWorker[best]...), d)
	return ns
}

// without returns a copy of s less d.
func (s *fanSet) without(d *downTrack) *fanSet {
	ns := &fanSet{byWorker: make([][]*downTrack, len(s.byWorker))}
	for _, x := range s.all {
		if x != d {
			ns.all = append(ns.all, x)
		}
	}
	for i, dts := range s.byWorker {
		for _, x := range dts {
			if x != d {
				ns.byWorker[i] = append(ns.byWorker[i], x)
			}
		}
	}
	return ns
}
