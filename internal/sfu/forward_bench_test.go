package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
)

// countingWriter stands for pion's SRTP write path: it counts packets and
// keeps nothing.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) WriteRTP(*rtp.Header, []byte) (int, error) {
	w.n.Add(1)
	return 0, nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchTrack builds a video track with subs downtracks bound to writers,
// without pion: what the node itself costs per packet, SRTP and sockets
// aside.
func benchTrack(tb testing.TB, subs, workers int) (*upTrack, []*countingWriter) {
	tb.Helper()
	n := &Node{cfg: Config{Now: nil}.withDefaults(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n.fan = newFanout(workers, &n.stats)
	tb.Cleanup(func() { n.fan.close() })
	u := &upTrack{node: n, pub: &Peer{id: "teacher", node: n}, kind: KindCamera, done: make(chan struct{})}
	u.set.Store(&fanSet{byWorker: make([][]*downTrack, workers)})
	u.published = true
	u.forwarding.Store(true)
	var ws []*countingWriter
	for i := range subs {
		p := &Peer{id: fmt.Sprint("s", i), node: n}
		p.mode.Store(int32(ModeVideo))
		d := newDownTrack(u, p)
		w := &countingWriter{}
		d.bound.Store(&binding{ssrc: uint32(i), pt: 96, ws: w})
		u.attach(d)
		ws = append(ws, w)
	}
	return u, ws
}

func makePacket(seq uint16, key bool) *packet {
	p := getPacket()
	b := p.buf[:1012]
	clear(b)
	h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 1}
	hn, _ := h.MarshalTo(b)
	b[hn] = 0x10
	if !key {
		b[hn+1] = 0x01
	}
	if err := p.rtp.Unmarshal(b); err != nil {
		panic(err)
	}
	p.size = len(b)
	p.keyframe = isVP8Keyframe(p.rtp.Payload)
	return p
}

// forwardOne is the reader's work for one packet after parsing.
func forwardOne(u *upTrack, p *packet) {
	u.keep(p)
	set := u.set.Load()
	if len(set.all) <= inlineMax {
		for _, d := range set.all {
			d.forward(p, &u.scratch, &u.inline)
		}
	} else {
		u.node.fan.dispatch(p, set)
	}
	p.release()
}

func TestForwardingAllocatesNothing(t *testing.T) {
	u, _ := benchTrack(t, 10, 2)
	forwardOne(u, makePacket(0, true))
	seq := uint16(1)
	allocs := testing.AllocsPerRun(1000, func() {
		p := makePacket(seq, false)
		seq++
		forwardOne(u, p)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per packet forwarded to 10 subscribers", allocs)
	}
}

func TestFanoutDeliversEveryPacketInOrder(t *testing.T) {
	const subs, packets = 200, jobQueue - 1 // a burst the queues hold
	u, ws := benchTrack(t, subs, 4)
	for i := range packets {
		forwardOne(u, makePacket(uint16(i), i == 0))
	}
	u.node.fan.close()
	u.node.fan = newFanout(4, &u.node.stats) // for Cleanup's close
	for i, w := range ws {
		if n := w.n.Load(); n != packets {
			t.Fatalf("subscriber %d got %d of %d packets", i, n, packets)
		}
	}
	if d := u.node.stats.dropped.Load(); d != 0 {
		t.Errorf("%d dropped", d)
	}
}

// BenchmarkForward measures the node's own work per packet forwarded
// (parse aside): buffer, fan-out, sequence rewriting, one write per
// subscriber into a writer that does nothing. ns/write is per subscriber.
func BenchmarkForward(b *testing.B) {
	for _, subs := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(subs, "subscribers"), func(b *testing.B) {
			u, ws := benchTrack(b, subs, 2*runtime.GOMAXPROCS(0))
			forwardOne(u, makePacket(0, true))
			written := func() (n int64) {
				for _, w := range ws {
					n += w.n.Load()
				}
				return n
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				forwardOne(u, makePacket(uint16(i+1), false))
				if i%64 == 63 || i == b.N-1 {
					// Let the workers catch up, as real time would:
					// the queues never overflow.
					for written() < int64(i+2)*int64(subs) {
						runtime.Gosched()
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/write")
		})
	}
}
