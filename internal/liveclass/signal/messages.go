package signal

import "preau/internal/liveclass"

// Type is a frame's "type".
type Type string

// Client to server.
const (
	TypeHello      Type = "hello"
	TypeChat       Type = "chat"
	TypeHand       Type = "hand"
	TypeReact      Type = "react"
	TypePollCreate Type = "poll_create"
	TypePollVote   Type = "poll_vote"
	TypePollClose  Type = "poll_close"
	TypeStroke     Type = "stroke"
	TypeStrokeUndo Type = "stroke_undo"
	TypeBoardClear Type = "board_clear"
	TypeSlide      Type = "slide"
	TypeMuteAll    Type = "mute_all"
	TypeRemove     Type = "remove"
	TypeGrant      Type = "grant"
	TypeLowerHand  Type = "lower_hand"
	TypeLowerAll   Type = "lower_all"
	TypeLock       Type = "lock"
	TypeAdmit      Type = "admit"
	TypeEnd        Type = "end"
	TypeLeave      Type = "leave"
	TypeMediaMode  Type = "media_mode"
	TypePubOffer   Type = "pub_offer"
	TypeSubAnswer  Type = "sub_answer"
	TypeICE        Type = "ice"
	TypePing       Type = "ping"
)

// Server to client.
const (
	TypeWelcome   Type = "welcome"
	TypeEvent     Type = "event"
	TypeSnapshot  Type = "snapshot"
	TypeError     Type = "error"
	TypePubAnswer Type = "pub_answer"
	TypeSubOffer  Type = "sub_offer"
	TypeQueued    Type = "queued"
	TypePong      Type = "pong"
	// TypeICE is used both ways.
)

// Message is a parsed client frame: one of the pointer types below.
type Message interface {
	Type() Type
	RefID() string
}

// Common is in every client message. Ref is the client's own id for the
// message (1 to 64 characters among letters, digits and ._:-), echoed in
// the error frame that refuses it, so the page knows which action failed.
type Common struct {
	Ref string `json:"ref,omitempty"`
}

// RefID returns the client's message id, "" if none.
func (c Common) RefID() string { return c.Ref }

type (
	// Hello opens (or resumes) the session. LastSeq is the last event seq
	// the client applied, 0 for none. Resume says the client still has
	// its state and wants only what it missed (Room.Subscribe from
	// LastSeq); without it the client gets a snapshot, and a LastSeq kept
	// across a page reload still marks where the user was in the chat
	// (Room.Ack).
	Hello struct {
		Common
		LastSeq uint64 `json:"last_seq,omitempty"`
		Resume  bool   `json:"resume,omitempty"`
	}
	Chat struct {
		Common
		Text string `json:"text"`
	}
	Hand struct {
		Common
		Raised bool `json:"raised"`
	}
	React struct {
		Common
		Reaction string `json:"reaction"`
	}
	PollCreate struct {
		Common
		Question string   `json:"question"`
		Options  []string `json:"options"`
	}
	PollVote struct {
		Common
		PollID liveclass.PollID `json:"poll_id"`
		Option int              `json:"option"`
	}
	PollClose struct {
		Common
		PollID liveclass.PollID `json:"poll_id"`
	}
	// Stroke is drawn with the room's palette; Points are flat
	// [x0,y0,x1,y1,…] integers 0..10000.
	Stroke struct {
		Common
		Color  string           `json:"color"`
		Width  int              `json:"width"`
		Points liveclass.Points `json:"points"`
	}
	StrokeUndo struct{ Common }
	BoardClear struct{ Common }
	Slide      struct {
		Common
		Page int `json:"page"`
	}
	MuteAll struct{ Common }
	Remove  struct {
		Common
		Participant liveclass.ParticipantID `json:"participant"`
	}
	// Grant changes a participant's microphone and/or whiteboard; at
	// least one of them is present.
	Grant struct {
		Common
		Participant liveclass.ParticipantID `json:"participant"`
		Mic         *bool                   `json:"mic,omitempty"`
		Whiteboard  *bool                   `json:"whiteboard,omitempty"`
	}
	LowerHand struct {
		Common
		Participant liveclass.ParticipantID `json:"participant"`
	}
	LowerAll struct{ Common }
	Lock     struct {
		Common
		Locked bool `json:"locked"`
	}
	// Admit lets one waiting participant in, or all of them: exactly one
	// of Participant and All is given.
	Admit struct {
		Common
		Participant liveclass.ParticipantID `json:"participant,omitempty"`
		All         bool                    `json:"all,omitempty"`
	}
	End       struct{ Common }
	Leave     struct{ Common }
	MediaMode struct {
		Common
		// Mode is the most the client wants to receive: "video", "audio"
		// or "data"; the media layer applies it.
		Mode liveclass.MediaMode `json:"mode"`
	}
	// PubOffer is the client's offer for its publishing connection.
	PubOffer struct {
		Common
		SDP string `json:"sdp"`
	}
	// SubAnswer answers the server's offer for the subscribing connection.
	SubAnswer struct {
		Common
		SDP string `json:"sdp"`
	}
	// ICE is a trickled candidate for the publishing ("pub") or
	// subscribing ("sub") connection.
	ICE struct {
		Common
		Target    string    `json:"target"`
		Candidate Candidate `json:"candidate"`
	}
	// Ping keeps the connection alive; LastSeq, when given, acknowledges
	// the events applied so far (the room remembers the chat position).
	Ping struct {
		Common
		LastSeq uint64 `json:"last_seq,omitempty"`
	}
)

// Candidate is RTCIceCandidateInit, as a browser's candidate.toJSON()
// gives it (sdpMid, sdpMLineIndex and usernameFragment may be null). An
// empty Candidate string means end of candidates.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Targets of an ICE candidate.
const (
	TargetPub = "pub"
	TargetSub = "sub"
)

func (*Hello) Type() Type      { return TypeHello }
func (*Chat) Type() Type       { return TypeChat }
func (*Hand) Type() Type       { return TypeHand }
func (*React) Type() Type      { return TypeReact }
func (*PollCreate) Type() Type { return TypePollCreate }
func (*PollVote) Type() Type   { return TypePollVote }
func (*PollClose) Type() Type  { return TypePollClose }
func (*Stroke) Type() Type     { return TypeStroke }
func (*StrokeUndo) Type() Type { return TypeStrokeUndo }
func (*BoardClear) Type() Type { return TypeBoardClear }
func (*Slide) Type() Type      { return TypeSlide }
func (*MuteAll) Type() Type    { return TypeMuteAll }
func (*Remove) Type() Type     { return TypeRemove }
func (*Grant) Type() Type      { return TypeGrant }
func (*LowerHand) Type() Type  { return TypeLowerHand }
func (*LowerAll) Type() Type   { return TypeLowerAll }
func (*Lock) Type() Type       { return TypeLock }
func (*Admit) Type() Type      { return TypeAdmit }
func (*End) Type() Type        { return TypeEnd }
func (*Leave) Type() Type      { return TypeLeave }
func (*MediaMode) Type() Type  { return TypeMediaMode }
func (*PubOffer) Type() Type   { return TypePubOffer }
func (*SubAnswer) Type() Type  { return TypeSubAnswer }
func (*ICE) Type() Type        { return TypeICE }
func (*Ping) Type() Type       { return TypePing }
