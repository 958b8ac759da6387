package main

import (
	"time"

	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
)

// The split mode's signalling between the clients process and the node
// process: JSON over HTTP on loopback, one request per call of the sfu
// API, and one streamed response (GET /events, a JSON object per line)
// carrying every peer's callbacks in the order the node queued them.
// It is a load-test harness, not the live class's signalling: no
// authentication, so the node only listens on loopback.
//
//	POST /join      joinRequest     → 204   Router.Join (+ Peer.SetAllowed)
//	POST /publish   sdpMessage      → sdpMessage  Peer.HandlePublisherOffer
//	POST /answer    sdpMessage      → 204   Peer.HandleSubscriberAnswer
//	POST /candidate candidateMessage → 204  Peer.AddICECandidate
//	POST /leave     joinRequest     → 204   Peer.Close
//	GET  /events                    → event per line, until the node stops
//	GET  /stats                     → nodeStats
//	POST /stop                      → 204, the node process exits
//	GET  /debug/pprof/...           the node's profiles

// joinRequest joins (or leaves) a peer of the bench's one room.
type joinRequest struct {
	ID    string   `json:"id"`
	Allow []string `json:"allow,omitempty"` // kinds the peer may publish: "audio", "camera", "screen"
}

// sdpMessage is an offer or an answer for one peer's connection.
type sdpMessage struct {
	ID  string `json:"id,omitempty"`
	SDP string `json:"sdp"`
}

// candidateMessage is a client's ICE candidate for one of its connections.
type candidateMessage struct {
	ID        string                  `json:"id"`
	Target    string                  `json:"target"` // "publisher" or "subscriber"
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

// event is one PeerCallbacks call, sent to the clients process.
type event struct {
	ID        string                   `json:"id"`
	Type      string                   `json:"type"` // "offer", "candidate", "state", "mode"
	SDP       string                   `json:"sdp,omitempty"`
	Target    string                   `json:"target,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	State     string                   `json:"state,omitempty"`
	Mode      string                   `json:"mode,omitempty"`
}

// nodeStats is the node process's own account, read by the clients at
// the start and the end of the measured window.
type nodeStats struct {
	At         time.Time     `json:"at"`
	CPU        time.Duration `json:"cpu_ns"`     // user + system time of the node process (getrusage)
	SysCPU     time.Duration `json:"sys_cpu_ns"` // of which system time: on loopback, sendto also runs the receivers' UDP input
	NumCPU     int           `json:"num_cpu"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	Goroutines int           `json:"goroutines"`
	HeapBytes  uint64        `json:"heap_bytes"`
	Stats      sfu.Stats     `json:"stats"`
}
