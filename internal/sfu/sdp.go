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
// size, syntax, one set of ICE credentials and one DTLS fingerprint, a
// bounded number of media sections, each with a distinct mid (unified
// plan, bundled). It returns the parsed form.
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
	// Pion records a description before it checks the ICE and DTLS
	// attributes, and a connection left with a bad one cannot negotiate
	// again: check them first.
	for _, key := range []string{"ice-ufrag", "ice-pwd", "fingerprint"} {
		if err := checkOneValue(&sd, key); err != nil {
			return nil, err
		}
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

// checkOneValue checks that attribute key is set, at session level or in
// media sections, to one value throughout (bundled media share one ICE
// session and one DTLS certificate).
func checkOneValue(sd *sdp.SessionDescription, key string) error {
	value, ok := sd.Attribute(key)
	for i, md := range sd.MediaDescriptions {
		v, has := md.Attribute(key)
		if !has {
			continue
		}
		if ok && v != value {
			return fmt.Errorf("media section %d: conflicting %s: %w", i, key, ErrBadSDP)
		}
		value, ok = v, true
	}
	if !ok || value == "" {
		return fmt.Errorf("no %s: %w", key, ErrBadSDP)
	}
	return nil
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

// checkAnswer adds the checks an answer must pass: it answers the offer,
// section for section (same media, same mids, in order), and its DTLS
// role is decided (RFC 5763: the answerer says active or passive, never
// actpass). Pion applies part of an answer before it finds some of these
// faults, and would be left unable to make the next offer.
func checkAnswer(offer, sd *sdp.SessionDescription) error {
	if offer == nil {
		return fmt.Errorf("no offer to answer: %w", ErrBadSDP)
	}
	if len(sd.MediaDescriptions) != len(offer.MediaDescriptions) {
		return fmt.Errorf("%d media sections for an offer of %d: %w", len(sd.MediaDescriptions), len(offer.MediaDescriptions), ErrBadSDP)
	}
	for i, md := range sd.MediaDescriptions {
		om := offer.MediaDescriptions[i]
		mid, _ := md.Attribute(sdp.AttrKeyMID)
		omid, _ := om.Attribute(sdp.AttrKeyMID)
		if mid != omid || md.MediaName.Media != om.MediaName.Media {
			return fmt.Errorf("media section %d: %s %q answers %s %q: %w", i, md.MediaName.Media, mid, om.MediaName.Media, omid, ErrBadSDP)
		}
	}
	for i, md := range sd.MediaDescriptions {
		setup, ok := md.Attribute("setup")
		if !ok {
			setup, ok = sd.Attribute("setup")
		}
		if ok && setup != "active" && setup != "passive" {
			return fmt.Errorf("media section %d: setup %q in an answer: %w", i, setup, ErrBadSDP)
		}
	}
	return nil
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
