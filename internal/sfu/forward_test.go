package sfu_test

import (
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
			if got.MaxJump > 1 || got.Missing > got.Packets/50 {
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
