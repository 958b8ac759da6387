package signal

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"preau/internal/domain"
	"preau/internal/liveclass"
)

// Size limits. The frame limit is checked before anything is read, and
// bounds the work of everything after; a stroke's point count is checked
// before its points are decoded; the other limits apply to the decoded
// strings and lists, before any of them reaches the room or the media
// layer.
const (
	MaxFrame        = 64 << 10 // a whole frame
	MaxSDP          = 16 << 10 // an offer or answer
	MaxCandidate    = 512      // an ICE candidate line
	MaxText         = 4 << 10  // chat text in bytes (the room allows 1,000 characters)
	MaxQuestion     = 1 << 10  // poll question in bytes
	MaxOption       = 512      // poll option in bytes
	MaxOptions      = 8        // poll options (the room allows 2 to 6)
	MaxRef          = 64
	MaxID           = 64 // participant and poll ids
	MaxWord         = 32 // reaction and colour codes
	MaxMid          = 64 // sdpMid
	MaxUfrag        = 256
	maxMembers      = 16 // members of one object
	maxStrokePoints = liveclass.MaxStrokePoints
)

// Errors of the parser, as *liveclass.Error so that the transport answers
// every refusal the same way. Those about one member carry its name in
// Field.
var (
	ErrTooLarge     = &liveclass.Error{Code: "too_large", Key: "live.err.too_large", Generic: domain.CodeTooLarge}
	ErrBadFrame     = &liveclass.Error{Code: "bad_frame", Key: "live.err.bad_frame", Generic: domain.CodeInvalid}
	ErrUnknownType  = &liveclass.Error{Code: "unknown_type", Key: "live.err.unknown_type", Generic: domain.CodeInvalid}
	ErrUnknownField = &liveclass.Error{Code: "unknown_field", Key: "live.err.unknown_field", Generic: domain.CodeInvalid}
	ErrBadSDP       = &liveclass.Error{Code: "bad_sdp", Key: "live.err.bad_sdp", Generic: domain.CodeInvalid}
	ErrBadCandidate = &liveclass.Error{Code: "bad_candidate", Key: "live.err.bad_candidate", Generic: domain.CodeInvalid}
)

func withField(e *liveclass.Error, field string) *liveclass.Error {
	c := *e
	c.Field = field
	return &c
}

func missing(field string) *liveclass.Error {
	return liveclass.Invalid(field, "live.err.missing_field")
}

func badField(field string) *liveclass.Error {
	return liveclass.Invalid(field, "live.err.bad_field")
}

// ParseError is Parse's error: the reason, with the message's type and
// ref when they could be read, so the error frame can name the message.
type ParseError struct {
	Type Type
	Ref  string
	Err  *liveclass.Error
}

func (e *ParseError) Error() string {
	if e.Type != "" {
		return "signal: parse " + string(e.Type) + ": " + e.Err.Error()
	}
	return "signal: parse: " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// spec is what one message type allows.
type spec struct {
	make     func() Message
	fields   []string // members besides type and ref
	required []string
	check    func(Message) *liveclass.Error
}

var specs = map[Type]spec{
	TypeHello: {func() Message { return &Hello{} }, []string{"last_seq", "resume"}, nil, nil},
	TypeChat: {func() Message { return &Chat{} }, []string{"text"}, []string{"text"}, func(m Message) *liveclass.Error {
		return maxLen("text", m.(*Chat).Text, MaxText)
	}},
	TypeHand: {func() Message { return &Hand{} }, []string{"raised"}, []string{"raised"}, nil},
	TypeReact: {func() Message { return &React{} }, []string{"reaction"}, []string{"reaction"}, func(m Message) *liveclass.Error {
		return word("reaction", m.(*React).Reaction)
	}},
	TypePollCreate: {func() Message { return &PollCreate{} }, []string{"question", "options"}, []string{"question", "options"}, func(m Message) *liveclass.Error {
		p := m.(*PollCreate)
		if err := maxLen("question", p.Question, MaxQuestion); err != nil {
			return err
		}
		if len(p.Options) > MaxOptions {
			return withField(ErrTooLarge, "options")
		}
		for _, o := range p.Options {
			if err := maxLen("options", o, MaxOption); err != nil {
				return err
			}
		}
		return nil
	}},
	TypePollVote: {func() Message { return &PollVote{} }, []string{"poll_id", "option"}, []string{"poll_id", "option"}, func(m Message) *liveclass.Error {
		p := m.(*PollVote)
		if p.Option < 0 || p.Option >= MaxOptions {
			return badField("option")
		}
		return ident("poll_id", string(p.PollID))
	}},
	TypePollClose: {func() Message { return &PollClose{} }, []string{"poll_id"}, []string{"poll_id"}, func(m Message) *liveclass.Error {
		return ident("poll_id", string(m.(*PollClose).PollID))
	}},
	TypeStroke: {func() Message { return &Stroke{} }, []string{"color", "width", "points"}, []string{"color", "width", "points"}, func(m Message) *liveclass.Error {
		s := m.(*Stroke)
		if len(s.Points) == 0 {
			return badField("points")
		}
		if s.Width < 0 || s.Width > 255 {
			return badField("width")
		}
		return word("color", s.Color)
	}},
	TypeStrokeUndo: {func() Message { return &StrokeUndo{} }, nil, nil, nil},
	TypeBoardClear: {func() Message { return &BoardClear{} }, nil, nil, nil},
	TypeSlide: {func() Message { return &Slide{} }, []string{"page"}, []string{"page"}, func(m Message) *liveclass.Error {
		if p := m.(*Slide).Page; p < 0 || p > 1_000_000 {
			return badField("page")
		}
		return nil
	}},
	TypeMuteAll: {func() Message { return &MuteAll{} }, nil, nil, nil},
	TypeRemove: {func() Message { return &Remove{} }, []string{"participant"}, []string{"participant"}, func(m Message) *liveclass.Error {
		return ident("participant", string(m.(*Remove).Participant))
	}},
	TypeGrant: {func() Message { return &Grant{} }, []string{"participant", "mic", "whiteboard"}, []string{"participant"}, func(m Message) *liveclass.Error {
		g := m.(*Grant)
		if g.Mic == nil && g.Whiteboard == nil {
			return missing("mic")
		}
		return ident("participant", string(g.Participant))
	}},
	TypeLowerHand: {func() Message { return &LowerHand{} }, []string{"participant"}, []string{"participant"}, func(m Message) *liveclass.Error {
		return ident("participant", string(m.(*LowerHand).Participant))
	}},
	TypeLowerAll: {func() Message { return &LowerAll{} }, nil, nil, nil},
	TypeLock:     {func() Message { return &Lock{} }, []string{"locked"}, []string{"locked"}, nil},
	TypeAdmit: {func() Message { return &Admit{} }, []string{"participant", "all"}, nil, func(m Message) *liveclass.Error {
		a := m.(*Admit)
		if (a.Participant != "") == a.All {
			return badField("participant")
		}
		if a.All {
			return nil
		}
		return ident("participant", string(a.Participant))
	}},
	TypeEnd:   {func() Message { return &End{} }, nil, nil, nil},
	TypeLeave: {func() Message { return &Leave{} }, nil, nil, nil},
	TypeMediaMode: {func() Message { return &MediaMode{} }, []string{"mode"}, []string{"mode"}, func(m Message) *liveclass.Error {
		switch m.(*MediaMode).Mode {
		case liveclass.MediaVideo, liveclass.MediaAudio, liveclass.MediaData:
			return nil
		}
		return badField("mode")
	}},
	TypePubOffer: {func() Message { return &PubOffer{} }, []string{"sdp"}, []string{"sdp"}, func(m Message) *liveclass.Error {
		return checkSDP(m.(*PubOffer).SDP)
	}},
	TypeSubAnswer: {func() Message { return &SubAnswer{} }, []string{"sdp"}, []string{"sdp"}, func(m Message) *liveclass.Error {
		return checkSDP(m.(*SubAnswer).SDP)
	}},
	TypeICE: {func() Message { return &ICE{} }, []string{"target", "candidate"}, []string{"target", "candidate"}, func(m Message) *liveclass.Error {
		c := m.(*ICE)
		if c.Target != TargetPub && c.Target != TargetSub {
			return badField("target")
		}
		return checkCandidate(c.Candidate)
	}},
	TypePing: {func() Message { return &Ping{} }, []string{"last_seq"}, nil, nil},
}

// Parse reads one client frame. Every error is a *ParseError wrapping a
// *liveclass.Error: ErrTooLarge, ErrBadFrame, ErrUnknownType,
// ErrUnknownField, ErrBadSDP, ErrBadCandidate, or liveclass.ErrInvalid
// with the member at fault.
func Parse(b []byte) (Message, error) {
	pe := &ParseError{}
	fail := func(e *liveclass.Error) (Message, error) {
		pe.Err = e
		return nil, pe
	}
	if len(b) > MaxFrame {
		return fail(ErrTooLarge)
	}
	if !utf8.Valid(b) {
		return fail(ErrBadFrame)
	}
	obj, err := members(b)
	if err != nil {
		return fail(err)
	}
	if raw, ok := obj["ref"]; ok {
		var ref string
		if json.Unmarshal(raw, &ref) != nil || !validRef(ref) {
			return fail(badField("ref"))
		}
		pe.Ref = ref
	}
	rawType, ok := obj["type"]
	if !ok {
		return fail(missing("type"))
	}
	var t Type
	if json.Unmarshal(rawType, &t) != nil {
		return fail(badField("type"))
	}
	sp, ok := specs[t]
	if !ok {
		return fail(ErrUnknownType)
	}
	pe.Type = t
	delete(obj, "type")
	for k, v := range obj {
		if k != "ref" && !contains(sp.fields, k) {
			return fail(withField(ErrUnknownField, k))
		}
		if string(v) == "null" {
			return fail(badField(k)) // no member of the protocol is nullable
		}
	}
	for _, k := range sp.required {
		if _, ok := obj[k]; !ok {
			return fail(missing(k))
		}
	}
	if e := preflight(t, obj); e != nil {
		return fail(e)
	}
	// The members are now exactly the struct's: decode them in one go,
	// still refusing anything unknown should the two lists ever diverge.
	body, err2 := json.Marshal(obj)
	if err2 != nil {
		return fail(ErrBadFrame)
	}
	m := sp.make()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return fail(culprit(sp, obj))
	}
	if sp.check != nil {
		if e := sp.check(m); e != nil {
			return fail(e)
		}
	}
	return m, nil
}

// preflight checks sizes and nested shapes on the raw members, before
// the costlier decoding: point counts and the ICE candidate object, whose
// members are matched exactly like the frame's.
func preflight(t Type, obj map[string]json.RawMessage) *liveclass.Error {
	switch t {
	case TypeStroke:
		// A JSON array of n numbers has n-1 commas at its top level, and
		// numbers contain none: count before decoding.
		if n := bytes.Count(obj["points"], []byte{','}) + 1; n > 2*maxStrokePoints {
			return withField(ErrTooLarge, "points")
		}
	case TypeICE:
		c, err := members(obj["candidate"])
		if err != nil {
			return withField(ErrBadCandidate, "candidate")
		}
		for k, v := range c {
			switch k {
			case "candidate":
				if string(v) == "null" {
					return withField(ErrBadCandidate, "candidate")
				}
			case "sdpMid", "sdpMLineIndex", "usernameFragment": // null allowed, as browsers send it
			default:
				return withField(ErrUnknownField, "candidate."+k)
			}
		}
		if _, ok := c["candidate"]; !ok {
			return missing("candidate.candidate")
		}
	}
	return nil
}

// culprit finds the member a failed decoding is about, trying each alone,
// so the client learns which one to fix.
func culprit(sp spec, obj map[string]json.RawMessage) *liveclass.Error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		one, err := json.Marshal(map[string]json.RawMessage{k: obj[k]})
		if err != nil || json.Unmarshal(one, sp.make()) != nil {
			return badField(k)
		}
	}
	return ErrBadFrame
}

// members splits a JSON object into its members, refusing anything but
// one object, duplicate names, and more than maxMembers members.
func members(b []byte) (map[string]json.RawMessage, *liveclass.Error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, ErrBadFrame
	}
	obj := make(map[string]json.RawMessage, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, ErrBadFrame
		}
		key, ok := tok.(string)
		if !ok {
			return nil, ErrBadFrame
		}
		if _, dup := obj[key]; dup || len(obj) == maxMembers {
			return nil, ErrBadFrame
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, ErrBadFrame
		}
		obj[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, ErrBadFrame
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrBadFrame // trailing data
	}
	return obj, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func maxLen(field, s string, n int) *liveclass.Error {
	if len(s) > n {
		return withField(ErrTooLarge, field)
	}
	return nil
}

// ident checks a participant or poll id: 1 to MaxID letters, digits, '_'
// or '-'.
func ident(field, s string) *liveclass.Error {
	if len(s) == 0 || len(s) > MaxID {
		return badField(field)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return badField(field)
		}
	}
	return nil
}

// word checks a code (reaction, colour): 1 to MaxWord of a-z and '_'.
func word(field, s string) *liveclass.Error {
	if len(s) == 0 || len(s) > MaxWord {
		return badField(field)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c == '_') {
			return badField(field)
		}
	}
	return nil
}

func validRef(s string) bool {
	if len(s) == 0 || len(s) > MaxRef {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:-", c) >= 0) {
			return false
		}
	}
	return true
}

// checkSDP refuses what cannot be a session description: over MaxSDP,
// not starting with the version line, or holding anything but printable
// ASCII and line ends. The media layer parses the rest.
func checkSDP(s string) *liveclass.Error {
	if len(s) > MaxSDP {
		return withField(ErrTooLarge, "sdp")
	}
	if !strings.HasPrefix(s, "v=0\r\n") && !strings.HasPrefix(s, "v=0\n") {
		return withField(ErrBadSDP, "sdp")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' {
			return withField(ErrBadSDP, "sdp")
		}
	}
	return nil
}

// checkCandidate refuses a candidate line that is too long, does not
// start with "candidate:" (empty means end of candidates) or holds
// anything but printable ASCII — a line break would smuggle SDP lines.
func checkCandidate(c Candidate) *liveclass.Error {
	if len(c.Candidate) > MaxCandidate {
		return withField(ErrTooLarge, "candidate.candidate")
	}
	if c.Candidate != "" && (!strings.HasPrefix(c.Candidate, "candidate:") || !printable(c.Candidate)) {
		return withField(ErrBadCandidate, "candidate.candidate")
	}
	if c.SDPMid != nil && (len(*c.SDPMid) > MaxMid || !printable(*c.SDPMid)) {
		return withField(ErrBadCandidate, "candidate.sdpMid")
	}
	if c.UsernameFragment != nil && (len(*c.UsernameFragment) > MaxUfrag || !printable(*c.UsernameFragment)) {
		return withField(ErrBadCandidate, "candidate.usernameFragment")
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
