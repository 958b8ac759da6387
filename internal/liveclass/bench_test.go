package liveclass

import (
	"testing"
	"time"
)

// BenchmarkChatToThirtyListeners is one chat message fanned out to a
// class of 30 connected listeners (each draining its channel).
func BenchmarkChatToThirtyListeners(b *testing.B) {
	clock := &fakeClock{t: t0}
	room, err := New(Config{
		MayJoin: enrolled, Now: clock.Now,
		ChatRate: Rate{Burst: 1 << 30, Every: time.Nanosecond},
	})
	if err != nil {
		b.Fatal(err)
	}
	host, _ := room.Join(teacher)
	var subs []*Subscription
	for i := range 30 {
		res, _ := room.Join(student(i))
		s, _, _ := room.Subscribe(res.Participant, 0)
		subs = append(subs, s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := room.Chat(host.Participant, "Ouvrez vos cahiers page 42."); err != nil {
			b.Fatal(err)
		}
		for _, s := range subs {
			<-s.Events()
		}
	}
}
