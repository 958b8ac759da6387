package liveclass_test

import (
	"fmt"
	"os"
	"time"

	"preau/internal/domain"
	"preau/internal/liveclass"
)

// A lesson from the room's point of view: the teacher opens a room with a
// waiting room, a pupil waits and is admitted, asks a question in the
// chat, and the teacher grants the microphone.
func Example() {
	now := time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	class := map[domain.UserID]bool{1: true, 101: true}
	room, _ := liveclass.New(liveclass.Config{
		ID: "r1", Title: "Histoire — 4e A", WaitingRoom: true,
		MayJoin: func(id liveclass.Identity) bool { return class[id.User] },
		Now:     func() time.Time { return now },
	})
	t, _ := room.Join(liveclass.Identity{User: 1, Name: "Mme Martin", Role: liveclass.RoleHost})
	p, _ := room.Join(liveclass.Identity{User: 101, Name: "Zoé", Role: liveclass.RoleStudent})
	fmt.Println(p.Participant, p.Presence, "at position", p.Position)

	_, err := room.Join(liveclass.Identity{User: 999, Name: "Intrus", Role: liveclass.RoleStudent})
	fmt.Println("stranger:", liveclass.ErrorOf(err).Code)

	sub, _, _ := room.Subscribe(t.Participant, 0)
	_ = room.Admit(t.Participant, p.Participant)
	_, _ = room.Chat(p.Participant, "Pouvez-vous répéter la date ?")
	_ = room.Grant(t.Participant, p.Participant, liveclass.PermMic, true)
	fmt.Println("may talk:", room.MayPublish(p.Participant, liveclass.KindAudio) == nil)
	for range 4 {
		ev := <-sub.Events()
		fmt.Println(ev.Seq, ev.Kind)
	}
	_ = liveclass.WriteAttendanceCSV(os.Stdout, room.Attendance(), now)
	// Output:
	// u101 waiting at position 1
	// stranger: not_enrolled
	// may talk: true
	// 5 joined
	// 6 waiting
	// 7 chat
	// 8 permissions
	// name,role,joined_at,left_at,duration_seconds,reason
	// Mme Martin,host,2021-04-06T08:00:00Z,,0,present
	// Zoé,student,2021-04-06T08:00:00Z,,0,present
}
