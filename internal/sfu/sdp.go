package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Limits on what a client may send. A browser's offer with three media
// sections is 5 to 10 KB and a candidate line under 200 bytes; the limits
// leave room and bound what a hostile client makes the node parse.
const (
	maxSDPSize       = 64 << 10
	maxMediaSections = 16
	maxCandidateSize = 512
	maxMidSize       = 32
)

// parseSDP checks a session description from a client before pion sees it:
// size, syntax, a bounded number of media sections, each audio or video
// section with a mid (unified plan, bundled). It returns the parsed form.
func parseSDP(raw string) (*sdp.SessionDescription, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty: %w", ErrBadSDP)
	}
	if len(raw) > maxSDPSize {
		return nil, fmt.Errorf("%d bytes, more than %d: %w", len(raw), maxSDPSize, ErrBadSDP)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, fmt.Errorf("no media section: %w", ErrBadSDP)
	}
	if len(sd.MediaDescriptions) > maxMediaSections {
		return nil, fmt.Errorf("%d media sections, more than %d: %w", len(sd.MediaDescriptions), maxMediaSections, ErrBadSDP)
	}
	mids := make(map[string]bool, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		mid, ok := md.Attribute(sdp.AttrKeyMID)
		if !ok || mid == "" || len(mid) > maxMidSize {
			return nil, fmt.Errorf("media section %d: missing or oversized mid: %w", i, ErrBadSDP)
		}
		if mids[mid] {
			return nil, fmt.Errorf("media section %d: duplicate mid %q: %w", i, mid, ErrBadSDP)
		}
		mids[mid] = true
	}
	return &sd, nil
}

// publisherKinds maps each media section of a publisher's offer to the
// kind of track it carries, by the convention the browser follows: the
// first audio section is the microphone, the first video section the
// camera, the second video section the screen share. Any other section
// maps to 0 (unknown) and its track is refused. A browser creates its
// transceivers once, in that order (audio, camera, screen), and starts or
// stops a source with RTCRtpSender.replaceTrack, so the order holds across
// renegotiations.
func publisherKinds(sd *sdp.SessionDescription) map[string]Kind {
	kinds := make(map[string]Kind, len(sd.MediaDescriptions))
	audio, video := 0, 0
	for _, md := range sd.MediaDescriptions {
		mid, _ := md.Attribute(sdp.AttrKeyMID)
		switch md.MediaName.Media {
		case "audio":
			if audio == 0 {
				kinds[mid] = KindAudio
			}
			audio++
		case "video":
			switch video {
			case 0:
				kinds[mid] = KindCamera
			case 1:
				kinds[mid] = KindScreen
			}
			video++
		}
	}
	return kinds
}

// checkCandidate validates an ICE candidate from a client. An empty
// candidate is the end-of-candidates marker and is valid.
func checkCandidate(c webrtc.ICECandidateInit) error {
	if len(c.Candidate) > maxCandidateSize {
		return fmt.Errorf("%d bytes, more than %d: %w", len(c.Candidate), maxCandidateSize, ErrBadCandidate)
	}
	if c.SDPMid != nil && len(*c.SDPMid) > maxMidSize {
		return fmt.Errorf("oversized mid: %w", ErrBadCandidate)
	}
	if c.UsernameFragment != nil && len(*c.UsernameFragment) > 256 {
		return fmt.Errorf("oversized ufrag: %w", ErrBadCandidate)
	}
	v := strings.TrimPrefix(c.Candidate, "candidate:")
	if v == "" {
		return nil
	}
	if _, err := ice.UnmarshalCandidate(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}
