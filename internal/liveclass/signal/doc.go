// Package signal is the live class's wire protocol: JSON text frames over
// a WebSocket, one object per frame with a "type" member.
//
// The client sends hello first (with the last event seq it saw, to
// resume), then room actions (chat, hand, react, polls, whiteboard,
// slides, moderation) and WebRTC signalling for the media layer
// (pub_offer, sub_answer, ice), which this package checks for shape and
// size and otherwise passes through untouched. The server answers with
// welcome, then event frames carrying liveclass events, snapshot frames
// when a client must redraw from scratch, error frames, and the media
// layer's pub_answer, sub_offer and ice.
//
// Parse is the only door for client bytes and is strict, since every
// frame comes from a device the school does not control: a frame over
// 64 KiB, invalid UTF-8, duplicate or unknown members (matched exactly,
// not case-insensitively as encoding/json would), a null member, an
// unknown type, an oversized field, an SDP that does not look like SDP or
// an ICE candidate line that does not look like one are refused before
// anything reaches the room, each with an error code the client can act
// on. What is a rule of the lesson rather than of the protocol (how long a
// chat message may be in characters, which colours exist) is checked by
// package liveclass. Encode turns a client message back into a frame that
// Parse accepts and decodes to the same message; FuzzParse checks both.
package signal
