// Package sfu is Préau's media layer: a selective forwarding unit on pion
// (github.com/pion/webrtc/v4) running in the web server's process. It knows
// only pion: rooms, permissions and signalling live above it (LiveKit's
// layering: media never imports rooms or HTTP). The caller tells a Peer
// what it may publish and carries the SDP and candidates to and from the
// browser.
//
// # Design
//
// A Node owns one UDP port for every peer (pion's ICE UDP mux), optionally
// an ICE-TCP port and an embedded TURN server (UDP and TCP listeners), the
// fan-out workers, the admission budget and one Router per live class.
//
// Each participant is a Peer with two PeerConnections, as in LiveKit, so
// that each has a single offerer and offers never collide ("glare"):
//
//   - the publisher connection carries what the participant sends: the
//     client offers (HandlePublisherOffer), the node answers. It is created
//     on the first offer, and only for a peer allowed to publish something.
//   - the subscriber connection carries what the participant receives: the
//     node offers (PeerCallbacks.OnSubscriberOffer) whenever the set of
//     forwarded tracks changes, the client answers (HandleSubscriberAnswer).
//
// Trickle ICE: the client's candidates go to AddICECandidate for either
// connection (kept until the connection's remote description is set).
// The node's candidates for the subscriber connection are trickled through
// OnICECandidate, always after the offer they belong to; those of the
// publisher connection are in the answer HandlePublisherOffer returns (the
// node gathers only the host candidates of its muxes, in milliseconds, and
// a trickled candidate could overtake an answer the caller sends itself).
//
// Every published track is an uptrack read by one goroutine, which parses
// each RTP packet once into a pooled, reference-counted buffer, keeps the
// last 512 packets for retransmission and hands the packet to the
// track's downtracks: one webrtc.TrackLocal per subscriber per track,
// with its own SSRC, payload type and sequence numbers. Up to 20
// subscribers are written inline; beyond, each downtrack is pinned to one
// of the node's workers (2 × GOMAXPROCS by default) and a packet becomes
// one job per worker, so the writes (SRTP and a sendto each) run on every
// core and stay in order per subscriber. A worker whose queue is full drops
// the packet for its subscribers instead of stalling the reader (counted;
// the subscribers recover it by NACK). Forwarding allocates nothing per
// packet.
//
// RTCP. Publisher side: pion's NACK generator, receiver reports and TWCC
// feedback (the browser's bandwidth estimation). Subscriber side: sender
// reports and the TWCC header extension from pion; NACKs are answered by
// the node from the uptrack's shared buffer (pion's NACK responder would
// keep a copy of every packet per subscriber). Keyframe requests (PLI,
// FIR) from subscribers, and a subscriber starting or resuming video, ask
// the publisher for a keyframe at most once per 500 ms per track; a request
// inside the interval is deferred to its end, never lost. Video starts and
// resumes only on a keyframe, and sequence numbers are rewritten so that a
// pause leaves no gap.
//
// # Track kinds: the convention the browser follows
//
// A publisher's tracks are told apart by the order of the media sections
// of its offer: the first audio section is the microphone (KindAudio), the
// first video section the camera (KindCamera), the second video section
// the screen share (KindScreen). Any other section is refused. The page
// creates its transceivers once, in that order, before the first offer:
//
//	pc.addTransceiver('audio', {direction: 'sendonly'})  // microphone
//	pc.addTransceiver('video', {direction: 'sendonly'})  // camera
//	pc.addTransceiver('video', {direction: 'sendonly'})  // screen share
//
// and starts or stops a source with sender.replaceTrack(track or null),
// which needs no renegotiation. A student allowed only the microphone may
// create only the audio transceiver. Codecs: Opus and VP8 only (forwarded
// as they are; no simulcast, no RTX: do not enable them).
//
// A subscriber receives each forwarded track with the publisher's peer id
// as stream id and the kind ("audio", "camera", "screen") as track id:
// event.streams[0].id and event.track.id in the page's ontrack (the id of
// a remote MediaStreamTrack is the msid's track id in Chrome and Firefox).
//
// # Permissions
//
// Peer.SetAllowed sets the kinds a peer may publish. HandlePublisherOffer
// refuses a peer allowed nothing (ErrNotPermitted). A track of a kind not
// allowed is received but not forwarded, and counted in
// Stats.PublicationsRefused; allowing the kind later forwards it without
// renegotiation. Revoking a kind stops the fan-out at once and takes the
// track off every subscriber connection.
//
// # Degradation
//
// Each second the node samples every subscriber: loss (the worse of the
// receiver reports' fraction lost and TWCC feedback's lost share), NACK
// rate (packets NACKed / packets sent), the REMB bandwidth estimate if the
// browser sends one, and the bitrate forwarded. A ladder chooses the mode,
// video → audio → data only (no media: chat, slides and whiteboard go over
// the room's signalling):
//
//   - congested: loss or NACK rate ≥ 10 %, or estimate < 85 % of the
//     forwarded bitrate; clear: loss and NACK rate < 2 % and estimate
//     (if any) ≥ forwarded bitrate; in between: hold.
//   - one rung down after 3 s of congestion (a "hold" sample does not reset
//     it), one rung up after 10 s clear. A step up undone within 20 s was a
//     failed probe: the next wait up doubles, to at most 80 s, and returns
//     to 10 s once a step up holds for 20 s.
//
// Peer.CapMode caps the mode (a student choosing "audio only"); the mode
// received is the lower of the ladder's and the cap. Changes are reported
// through PeerCallbacks.OnMode and counted.
//
// # Capacity
//
// Node.Admit takes one place in the node's budget: at most
// Config.MaxSubscribers, and at most Config.MaxBitrate counting
// Config.SubscriberBitrate per subscriber. A join over budget waits in a
// bounded FIFO line (its position reported as it changes), is admitted
// when a release frees a place, never before someone ahead of it, and is
// refused with ErrOverBudget after Config.AdmissionWait or at once when
// the line is full. Call Admit before Router.Join and the release function
// when the participant leaves. While the node drops packets (a fan-out
// worker's queue full: its CPUs are short) and for 10 s after, the line
// does not move whatever the budget (Stats.AdmissionHeld): a node past
// saturation collapses for everyone, so newcomers wait instead.
//
// # Connectivity
//
// Config.ICEUDPAddr is the single UDP port (default :7881). ICETCPAddr
// adds passive ICE-TCP. TURNUDPAddr and TURNTCPAddr start the embedded
// TURN server; Node.ICEServers gives a client TURN URLs for both transports
// with time-limited credentials derived from Config.TURNKey (the "TURN
// REST API": username "expiry:user", password base64(HMAC-SHA1(key,
// username))), so no user store is needed. The relay only relays to this
// host's own addresses: it cannot be used as an open relay. PublicIPs are
// announced as host candidates beside the local addresses. A node on
// loopback announces loopback candidates (tests).
//
// # Errors and bad input
//
// Sentinel errors are in errors.go; methods wrap them with context.
// Session descriptions and candidates from clients are checked before pion
// sees them (size, syntax, one set of ICE credentials and one DTLS
// fingerprint, an answer section for section against its offer): a bad one
// is refused with ErrBadSDP or ErrBadCandidate, counted in
// Stats.BadSignalling, and the node goes on serving.
//
// # Concurrency
//
// Node, Router and Peer methods are safe for concurrent use. A peer's
// callbacks run one at a time, in order, on a goroutine of the peer's own,
// never under a node lock: they may call back into the node. Stats returns
// counters ready for Prometheus; the package registers no metrics itself.
package sfu
