package sfu_test

import (
	"errors"
	"testing"
	"time"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

func TestStudentWithoutPermissionCannotPublish(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	student, _ := mustJoin(t, r, "student", sfutest.Options{})
	_, err := student.Publish(sfu.KindAudio)
	if !errors.Is(err, sfu.ErrNotPermitted) {
		t.Fatalf("publish without permission: %v, want ErrNotPermitted", err)
	}
	if got := n.Stats().PublicationsRefused; got != 1 {
		t.Errorf("PublicationsRefused = %d, want 1", got)
	}
}

func TestTrackOfAKindNotAllowedIsNotForwarded(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, _ := mustJoin(t, r, "teacher", sfutest.Options{})
	student, sp := mustJoin(t, r, "student", sfutest.Options{})
	sp.SetAllowed(sfu.KindAudio) // the microphone only
	sender, err := student.Publish(sfu.KindAudio, sfu.KindCamera)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	sender.Start()
	t.Cleanup(sender.Stop)

	waitFor(t, "teacher receiving the student's audio", 20*time.Second, func() bool {
		return teacher.Received("student", "audio").Packets >= 50
	})
	waitFor(t, "the camera refused", 10*time.Second, func() bool {
		return n.Stats().PublicationsRefused == 1
	})
	start := sender.Packets()
	waitFor(t, "the student sending 100 more packets", 10*time.Second, func() bool {
		return sender.Packets() >= start+100
	})
	if got := teacher.Received("student", "camera").Packets; got != 0 {
		t.Errorf("teacher received %d packets of a refused camera", got)
	}
	if st := n.Stats(); st.Tracks != 1 {
		t.Errorf("Tracks = %d, want 1 (audio only)", st.Tracks)
	}
}

func TestRevokingTheMicrophoneStopsForwardingAndGrantingResumesIt(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, _ := mustJoin(t, r, "teacher", sfutest.Options{})
	student, sp := mustJoin(t, r, "student", sfutest.Options{})
	sender := mustPublish(t, student, sp, sfu.KindAudio)

	waitFor(t, "teacher receiving the student", 20*time.Second, func() bool {
		return teacher.Received("student", "audio").Packets >= 50
	})
	sp.SetAllowed() // revoke
	if st := n.Stats(); st.Tracks != 0 {
		t.Fatalf("Tracks = %d after revoking, want 0", st.Tracks)
	}
	// A few packets may be in flight; after 100 more sent, none may get
	// through.
	before := teacher.Received("student", "audio").Packets
	start := sender.Packets()
	waitFor(t, "the student sending 100 more packets", 10*time.Second, func() bool {
		return sender.Packets() >= start+100
	})
	if got := teacher.Received("student", "audio").Packets - before; got > 5 {
		t.Errorf("teacher received %d packets after the microphone was revoked", got)
	}

	sp.SetAllowed(sfu.KindAudio) // grant again: the same track resumes
	resumed := teacher.Received("student", "audio").Packets
	waitFor(t, "forwarding resumed", 20*time.Second, func() bool {
		return teacher.Received("student", "audio").Packets >= resumed+50
	})
}

func TestKeyframeRequestsReachThePublisherRateLimited(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	sender := mustPublish(t, teacher, tp, sfu.KindCamera)
	student, _ := mustJoin(t, r, "student", sfutest.Options{})
	waitFor(t, "student receiving video", 20*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= 30
	})
	before := sender.PLIs()
	st0 := n.Stats()
	const burst = 20
	for range burst {
		if err := student.SendPLI("teacher", "camera"); err != nil {
			t.Fatalf("PLI: %v", err)
		}
	}
	waitFor(t, "the burst counted", 10*time.Second, func() bool {
		st := n.Stats()
		return st.PLIsForwarded+st.PLIsSuppressed >= st0.PLIsForwarded+st0.PLIsSuppressed+burst
	})
	waitFor(t, "a keyframe request reaching the publisher", 10*time.Second, func() bool {
		return sender.PLIs() > before
	})
	st := n.Stats()
	if st.PLIsSuppressed == st0.PLIsSuppressed {
		t.Errorf("no request suppressed in a burst of %d", burst)
	}
	if got := sender.PLIs() - before; got >= burst/2 {
		t.Errorf("publisher received %d keyframe requests for a burst of %d", got, burst)
	}
}

func TestCappingToAudioStopsVideoAndLiftingResumesOnAKeyframe(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	teacher, tp := mustJoin(t, r, "teacher", sfutest.Options{})
	sender := mustPublish(t, teacher, tp, sfu.KindAudio, sfu.KindCamera)
	student, sp := mustJoin(t, r, "student", sfutest.Options{})
	waitFor(t, "student receiving video", 20*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= 30
	})

	sp.CapMode(sfu.ModeAudio)
	if sp.Mode() != sfu.ModeAudio {
		t.Fatalf("mode %s after capping to audio", sp.Mode())
	}
	waitFor(t, "OnMode(audio)", 5*time.Second, func() bool {
		m := student.Modes()
		return len(m) == 1 && m[0] == sfu.ModeAudio
	})
	video := student.Received("teacher", "camera").Packets
	audio := student.Received("teacher", "audio").Packets
	start := sender.Packets()
	waitFor(t, "100 more packets sent", 10*time.Second, func() bool { return sender.Packets() >= start+100 })
	waitFor(t, "audio still flowing", 10*time.Second, func() bool {
		return student.Received("teacher", "audio").Packets >= audio+20
	})
	if got := student.Received("teacher", "camera").Packets - video; got > 5 {
		t.Errorf("%d video packets forwarded in audio mode", got)
	}

	keys := student.Received("teacher", "camera").Keyframes
	sp.CapMode(sfu.ModeVideo)
	waitFor(t, "video resumed", 20*time.Second, func() bool {
		return student.Received("teacher", "camera").Packets >= video+60
	})
	got := student.Received("teacher", "camera")
	if got.Keyframes <= keys {
		t.Errorf("video resumed without a keyframe")
	}
	// The pause left no hole in the sequence numbers: the node rewrote
	// them to carry on.
	if got.MaxJump > 3 {
		t.Errorf("sequence numbers jumped by %d across the pause", got.MaxJump)
	}
	if st := n.Stats(); st.ModeChanges != 2 {
		t.Errorf("ModeChanges = %d, want 2", st.ModeChanges)
	}
}

func TestCongestionStepsTheSubscriberDownAndReportsIt(t *testing.T) {
	n := mustNode(t)
	r := n.Router("class-1")
	student, sp := mustJoin(t, r, "student", sfutest.Options{})
	t0 := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		sp.Observe(sfu.Sample{At: t0.Add(time.Duration(i) * time.Second), Loss: 0.3, Bitrate: 500_000})
	}
	if sp.Mode() != sfu.ModeAudio {
		t.Fatalf("mode %s after 4 s of 30 %% loss, want audio", sp.Mode())
	}
	waitFor(t, "OnMode(audio)", 5*time.Second, func() bool {
		m := student.Modes()
		return len(m) == 1 && m[0] == sfu.ModeAudio
	})
}
