package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"preau/internal/liveclass"
)

// marshal encodes v without HTML escaping: frames never land in HTML
// unescaped, and escaping '<' as \u003c would let a 16 KiB SDP grow past
// the frame limit on its way back.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// withType puts "type" first in an encoded object.
func withType(t Type, obj []byte) []byte {
	out := make([]byte, 0, len(obj)+len(t)+12)
	out = append(out, `{"type":"`...)
	out = append(out, t...)
	out = append(out, '"')
	if len(obj) > 2 {
		out = append(out, ',')
		out = append(out, obj[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}

// Encode writes a client message as a frame (for Go clients: tests and
// the load tool's synthetic participants). A message Parse accepted
// encodes to a frame Parse accepts and decodes to an equal message.
func Encode(m Message) ([]byte, error) {
	if m == nil {
		return nil, errors.New("signal: encode: nil message")
	}
	b, err := marshal(m)
	if err != nil {
		return nil, fmt.Errorf("signal: encode %s: %w", m.Type(), err)
	}
	return withType(m.Type(), b), nil
}

// ICEServer is one STUN or TURN server the client may use, as
// RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Welcome answers hello. Snapshot is set when the client must draw
// everything (a first connection, or a resume from too far back); it is
// nil when the missed events follow as event frames. Seq is where the
// client stands after applying the welcome.
type Welcome struct {
	You        liveclass.ParticipantID `json:"you"`
	Seq        uint64                  `json:"seq"`
	Snapshot   *liveclass.Snapshot     `json:"snapshot,omitempty"`
	ICEServers []ICEServer             `json:"ice_servers,omitempty"`
}

// EncodeWelcome writes a welcome frame.
func EncodeWelcome(w Welcome) ([]byte, error) {
	return encodeServer(TypeWelcome, w)
}

type eventFrame struct {
	Seq  uint64              `json:"seq,omitempty"` // absent for ephemeral events
	Kind liveclass.EventKind `json:"kind"`
	At   time.Time           `json:"at"`
	Data any                 `json:"data"`
}

// EncodeEvent writes an event frame: {"type":"event","seq":…,"kind":…,
// "at":…,"data":{…}}, data being the event's payload. The resync marker
// is not for clients: the transport answers it with a snapshot frame.
func EncodeEvent(ev liveclass.Event) ([]byte, error) {
	if ev.Kind == liveclass.KindResync {
		return nil, errors.New("signal: encode event: the resync marker is not sent")
	}
	return encodeServer(TypeEvent, eventFrame{Seq: ev.Seq, Kind: ev.Kind, At: ev.At, Data: ev.Data})
}

// EncodeSnapshot writes {"type":"snapshot","seq":…,"snapshot":{…}}.
func EncodeSnapshot(s liveclass.Snapshot) ([]byte, error) {
	return encodeServer(TypeSnapshot, struct {
		Seq      uint64              `json:"seq"`
		Snapshot *liveclass.Snapshot `json:"snapshot"`
	}{s.Seq, &s})
}

// ErrorFrame is the body of an error frame.
type ErrorFrame struct {
	Code    string `json:"code"`
	Key     string `json:"key"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// EncodeError writes an error frame for err, which refused the client
// message ref ("" if none). translate turns the error's i18n key and
// arguments into the user's language (nil leaves the key as message). An
// error without a *liveclass.Error becomes code "internal": its detail is
// for the log only.
func EncodeError(err error, ref string, translate func(key string, args ...any) string) []byte {
	e := liveclass.ErrorOf(err)
	msg := e.Key
	if translate != nil {
		msg = translate(e.Key, e.Args...)
	}
	if ref == "" {
		var pe *ParseError
		if errors.As(err, &pe) {
			ref = pe.Ref
		}
	}
	if !validRef(ref) {
		ref = ""
	}
	b, mErr := encodeServer(TypeError, ErrorFrame{Code: e.Code, Key: e.Key, Field: e.Field, Message: msg, Ref: ref})
	if mErr != nil { // cannot happen: strings only
		return []byte(`{"type":"error","code":"internal","key":"live.err.internal","message":"internal"}`)
	}
	return b
}

// EncodePubAnswer writes the media layer's answer to a pub_offer.
func EncodePubAnswer(sdp string) ([]byte, error) {
	return encodeServer(TypePubAnswer, struct {
		SDP string `json:"sdp"`
	}{sdp})
}

// EncodeSubOffer writes the media layer's offer for the subscribing
// connection.
func EncodeSubOffer(sdp string) ([]byte, error) {
	return encodeServer(TypeSubOffer, struct {
		SDP string `json:"sdp"`
	}{sdp})
}

// EncodeICE writes a server candidate for the "pub" or "sub" connection.
func EncodeICE(target string, c Candidate) ([]byte, error) {
	return encodeServer(TypeICE, struct {
		Target    string    `json:"target"`
		Candidate Candidate `json:"candidate"`
	}{target, c})
}

// EncodeQueued tells a client its place in a queue (the room's waiting
// room, or the node's admission queue), from 1.
func EncodeQueued(position int) ([]byte, error) {
	return encodeServer(TypeQueued, struct {
		Position int `json:"position"`
	}{position})
}

// EncodePong answers a ping with the room's current seq.
func EncodePong(seq uint64) ([]byte, error) {
	return encodeServer(TypePong, struct {
		Seq uint64 `json:"seq"`
	}{seq})
}

func encodeServer(t Type, v any) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("signal: encode %s: %w", t, err)
	}
	return withType(t, b), nil
}

// ServerFrame is any server frame, decoded loosely, for Go clients (tests,
// the load tool). Only the members of its Type are set; Data holds an
// event's payload undecoded, for DecodeData.
type ServerFrame struct {
	Type Type `json:"type"`

	// welcome, snapshot, event, pong
	You        liveclass.ParticipantID `json:"you"`
	Seq        uint64                  `json:"seq"`
	Snapshot   *liveclass.Snapshot     `json:"snapshot"`
	ICEServers []ICEServer             `json:"ice_servers"`
	Kind       liveclass.EventKind     `json:"kind"`
	At         time.Time               `json:"at"`
	Data       json.RawMessage         `json:"data"`

	// error
	Code    string `json:"code"`
	Key     string `json:"key"`
	Field   string `json:"field"`
	Message string `json:"message"`
	Ref     string `json:"ref"`

	// media and queue
	SDP       string     `json:"sdp"`
	Target    string     `json:"target"`
	Candidate *Candidate `json:"candidate"`
	Position  int        `json:"position"`
}

// ParseServer decodes a server frame.
func ParseServer(b []byte) (ServerFrame, error) {
	var f ServerFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return ServerFrame{}, fmt.Errorf("signal: parse server frame: %w", err)
	}
	if f.Type == "" {
		return ServerFrame{}, errors.New("signal: parse server frame: no type")
	}
	return f, nil
}

// DecodeData decodes an event frame's payload into v (the payload type
// its kind documents).
func (f ServerFrame) DecodeData(v any) error {
	if err := json.Unmarshal(f.Data, v); err != nil {
		return fmt.Errorf("signal: %s event data: %w", f.Kind, err)
	}
	return nil
}
