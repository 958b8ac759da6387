package sfu

import (
	"fmt"
	"strings"
)

// Kind is what a published track carries. Kinds combine as a bit set in
// Peer.SetAllowed.
type Kind uint8

// The kinds a participant may publish.
const (
	KindAudio  Kind = 1 << iota // the microphone
	KindCamera                  // the camera
	KindScreen                  // a screen share
)

// String returns "audio", "camera" or "screen": also the id of the track
// a subscriber receives (its stream id is the publisher's peer id).
func (k Kind) String() string {
	switch k {
	case KindAudio:
		return "audio"
	case KindCamera:
		return "camera"
	case KindScreen:
		return "screen"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "audio", "mic", "microphone":
		return KindAudio, nil
	case "camera", "video":
		return KindCamera, nil
	case "screen":
		return KindScreen, nil
	}
	return 0, fmt.Errorf("sfu: unknown track kind %q", s)
}

func (k Kind) video() bool { return k == KindCamera || k == KindScreen }

// Target names one of a participant's two PeerConnections.
type Target uint8

// The two PeerConnections of a participant (LiveKit's dual-PC design).
const (
	// TargetPublisher: the client offers, the SFU answers; it carries what
	// the participant sends.
	TargetPublisher Target = iota + 1
	// TargetSubscriber: the SFU offers, the client answers; it carries
	// what the participant receives.
	TargetSubscriber
)

// String returns "publisher" or "subscriber".
func (t Target) String() string {
	switch t {
	case TargetPublisher:
		return "publisher"
	case TargetSubscriber:
		return "subscriber"
	}
	return fmt.Sprintf("target(%d)", uint8(t))
}

// ParseTarget is the inverse of Target.String.
func ParseTarget(s string) (Target, error) {
	switch s {
	case "publisher":
		return TargetPublisher, nil
	case "subscriber":
		return TargetSubscriber, nil
	}
	return 0, fmt.Errorf("sfu: unknown target %q", s)
}

// Mode is how much media a subscriber receives, from the richest down.
// Modes are ordered: ModeData < ModeAudio < ModeVideo.
type Mode int8

// The degradation ladder's rungs.
const (
	ModeData  Mode = iota // no media: chat, slides and whiteboard only
	ModeAudio             // audio tracks only
	ModeVideo             // everything (audio, camera, screen)
)

// String returns "data", "audio" or "video".
func (m Mode) String() string {
	switch m {
	case ModeData:
		return "data"
	case ModeAudio:
		return "audio"
	case ModeVideo:
		return "video"
	}
	return fmt.Sprintf("mode(%d)", int8(m))
}

// ParseMode is the inverse of Mode.String.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "data":
		return ModeData, nil
	case "audio":
		return ModeAudio, nil
	case "video":
		return ModeVideo, nil
	}
	return 0, fmt.Errorf("sfu: unknown mode %q", s)
}

// carries reports whether a subscriber in mode m receives tracks of kind k.
func (m Mode) carries(k Kind) bool {
	if k.video() {
		return m >= ModeVideo
	}
	return m >= ModeAudio
}
