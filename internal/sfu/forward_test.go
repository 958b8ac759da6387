package sfu_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

func TestTeacherReachesThreeStudents(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	sender := mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)

	var students []*sfutest.Client
	for _, id := range []string{"s1", "s2", "s3"} {
		c, _ := mustJoin(t, r, id, sfutest.Options{})
		students = append(students, c)
	}
	for _, c := range students {
		waitFor(t, c.ID+" receiving 150 video and 100 audio packets", 30*time.Second, func() bool {
			return c.Received("teacher", "camera").Packets >= 150 && c.Received("teacher", "audio").Packets >= 100
		})
	}
	for _, c := range students {
		for _, kind := range []string{"camera", "audio"} {
			got := c.Received("teacher", kind)
			// Loopback may lose a packet under the race detector's load;
			// a rewriting fault would jump by hundreds.
			if got.MaxJump > 3 || got.Missing > got.Packets/50 {
				t.Errorf("%s %s: sequence numbers not continuous: max jump %d, %d missing of %d", c.ID, kind, got.MaxJump, got.Missing, got.Packets)
			}
			if kind == "camera" && !got.FirstKeyframe {
				t.Errorf("%s: first video packet is not a keyframe", c.ID)
			}
		}
		if errs := c.Errors(); len(errs) > 0 {
			t.Errorf("%s: signalling errors: %v", c.ID, errs)
		}
	}
	st := n.Stats()
	if st.Tracks != 2 || st.DownTracks != 6 || st.Peers != 4 || st.Publishers != 1 {
		t.Errorf("stats: %+v", st)
	}
	if st.PacketsForwarded == 0 || st.PacketsIn == 0 {
		t.Errorf("no packets counted: %+v", st)
	}
	if sender.PLIs() == 0 {
		t.Errorf("new subscribers triggered no keyframe request")
	}
}

// Above 20 subscribers the fan-out runs on the node's workers.
func TestFanOutOnWorkersReachesEverySubscriber(t *testing.T) {
	if testing.Short() {
		t.Skip("24 WebRTC clients")
	}
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	waitFor(t, "the teacher's tracks", 20*time.Second, func() bool { return n.Stats().Tracks == 2 })
	var students []*sfutest.Client
	for i := range 24 {
		c, _ := mustJoin(t, r, fmt.Sprint("s", i), sfutest.Options{})
		students = append(students, c)
	}
	for _, c := range students {
		waitFor(t, c.ID+" receiving", 60*time.Second, func() bool {
			return c.Received("teacher", "camera").Packets >= 60 && c.Received("teacher", "audio").Packets >= 50
		})
	}
	for _, c := range students {
		if got := c.Received("teacher", "camera"); got.MaxJump > 3 {
			t.Errorf("%s: sequence jump %d", c.ID, got.MaxJump)
		}
	}
}

// Closing the node ends every goroutine it started, pion's included.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n := mustNode(t, func(c *sfu.Config) {
		c.ICETCPAddr = "127.0.0.1:0"
		c.TURNTCPAddr = "127.0.0.1:0"
		c.TURNKey = testTURNKey
	})
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	student, _ := mustJoin(t, r, "student", sfutest.Options{})
	waitFor(t, "media", 20*time.Second, func() bool { return student.Received("teacher", "camera").Packets > 30 })
	teacher.Close()
	student.Close()
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left after Close (%d before):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The load benchmark's clients count packets at their socket without
// decrypting them; the node must serve them as any other subscriber, and
// their feedback must be what the node reads.
func TestSocketCountingClientsReceiveTheStream(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	var students []*sfutest.Client
	for _, id := range []string{"s1", "s2"} {
		c, _ := mustJoin(t, r, id, sfutest.Options{CountAtSocket: true})
		students = append(students, c)
	}
	for _, c := range students {
		waitFor(t, c.ID+" counting 150 video and 100 audio packets", 30*time.Second, func() bool {
			return c.Received("teacher", "camera").Packets >= 150 && c.Received("teacher", "audio").Packets >= 100
		})
		if got := c.Received("teacher", "camera"); got.MaxJump > 3 || got.Missing > got.Packets/50 {
			t.Errorf("%s: sequence numbers not continuous: %+v", c.ID, got)
		}
		if c.JoinLatency() <= 0 {
			t.Errorf("%s: no join latency", c.ID)
		}
		waitFor(t, c.ID+" sending feedback", 10*time.Second, func() bool { return c.FeedbackSent() >= 10 })
		if errs := c.Errors(); len(errs) > 0 {
			t.Errorf("%s: errors: %v", c.ID, errs)
		}
	}
	if st := n.Stats(); st.DownTracks != 4 || st.PacketsForwarded == 0 {
		t.Errorf("stats: %+v", st)
	}
}
