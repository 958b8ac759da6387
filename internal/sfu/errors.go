package sfu

import "errors"

// Sentinel errors. Methods wrap them with context ("sfu: publisher offer
// from p1: ..."); callers test with errors.Is and show clients a safe
// message of their own, never the wrapped detail.
var (
	// ErrNotPermitted: the peer may not publish (no kind allowed), or a
	// track it offered is of a kind it may not publish.
	ErrNotPermitted = errors.New("sfu: not permitted")
	// ErrOverBudget: the node's admission budget is spent and the wait in
	// the queue ran out (or the queue itself is full).
	ErrOverBudget = errors.New("sfu: node over budget")
	// ErrClosed: the node, router or peer is closed.
	ErrClosed = errors.New("sfu: closed")
	// ErrBadSDP: a session description from a client is malformed,
	// oversized, of the wrong type or was refused by pion.
	ErrBadSDP = errors.New("sfu: bad session description")
	// ErrBadCandidate: an ICE candidate from a client is malformed or
	// oversized.
	ErrBadCandidate = errors.New("sfu: bad ICE candidate")
	// ErrBadState: a signalling message arrived out of order (an answer
	// with no offer outstanding, a target that does not exist yet).
	ErrBadState = errors.New("sfu: signalling out of order")
	// ErrPeerExists: Join with the id of a peer still in the router.
	ErrPeerExists = errors.New("sfu: peer already joined")
	// ErrConfig: the node's Config is invalid.
	ErrConfig = errors.New("sfu: invalid config")
)
