package liveclass

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"preau/internal/domain"
)

// Identifier types, distinct so that a room id is never passed where a
// participant id belongs.
type (
	RoomID        string
	ParticipantID string
	PollID        string
	StrokeID      string
)

// ParticipantIDFor is the participant id of a user in any room: stable, so
// that a reconnection is recognised as the same participant.
func ParticipantIDFor(u domain.UserID) ParticipantID {
	return ParticipantID("u" + strconv.FormatInt(int64(u), 10))
}

// User returns the user a participant id stands for (the inverse of
// ParticipantIDFor); false for an id not of that form.
func (p ParticipantID) User() (domain.UserID, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(string(p), "u"), 10, 64)
	if err != nil || !strings.HasPrefix(string(p), "u") || n <= 0 {
		return 0, false
	}
	return domain.UserID(n), true
}

// Role is what a participant is in the room, decided by the caller from
// the school role and the room's audience.
type Role string

const (
	// RoleHost is the teacher who started the room and co-teachers: they
	// publish audio, camera and screen, draw, and moderate.
	RoleHost Role = "host"
	// RoleGuest is invited staff (a teaching assistant, the CPE): a guest
	// sees what hosts see (waiting list, live poll results), chats, and may
	// be granted the microphone or the whiteboard, but does not moderate.
	RoleGuest Role = "guest"
	// RoleStudent listens, chats, raises a hand, votes, and talks or draws
	// only when a host grants it.
	RoleStudent Role = "student"
)

// Valid reports whether r is one of the three room roles.
func (r Role) Valid() bool { return r == RoleHost || r == RoleGuest || r == RoleStudent }

// Staff reports whether r sees staff-only events (hosts and guests).
func (r Role) Staff() bool { return r == RoleHost || r == RoleGuest }

// Identity is who joins, as the caller established it from the signed-in
// session: never from anything the client sends over the socket.
type Identity struct {
	User domain.UserID
	Name string
	Role Role
}

// maxNameRunes bounds display names: they travel in every event that
// names a participant.
const maxNameRunes = 100

func (id Identity) validate() error {
	if id.User <= 0 {
		return invalid("user", "live.err.identity")
	}
	if !id.Role.Valid() {
		return invalid("role", "live.err.identity")
	}
	if err := checkText("name", strings.TrimSpace(id.Name), maxNameRunes, false); err != nil {
		return err
	}
	return nil
}

// Permissions is what a participant may publish or do beyond listening and
// chatting. Hosts have everything; others get Mic and Whiteboard when a
// host grants them; Camera and Screen stay with hosts.
type Permissions struct {
	Mic        bool `json:"mic"`
	Camera     bool `json:"camera"`
	Screen     bool `json:"screen"`
	Whiteboard bool `json:"whiteboard"`
}

func defaultPermissions(r Role) Permissions {
	if r == RoleHost {
		return Permissions{Mic: true, Camera: true, Screen: true, Whiteboard: true}
	}
	return Permissions{}
}

// Permission names what a host may grant to a guest or a student.
type Permission string

const (
	PermMic        Permission = "mic"
	PermWhiteboard Permission = "whiteboard"
)

// Presence is where a participant stands in the room's life.
type Presence string

const (
	PresenceWaiting      Presence = "waiting"      // in the waiting room, not yet admitted
	PresenceIn           Presence = "in"           // admitted and connected
	PresenceDisconnected Presence = "disconnected" // connection lost, within the grace period
	PresenceLeft         Presence = "left"         // left, or the grace period ran out
	PresenceRemoved      Presence = "removed"      // removed by a host: cannot come back
)

// MediaMode is the media connection state the media layer reports, shown
// next to each participant's name.
type MediaMode string

const (
	MediaVideo      MediaMode = "video"
	MediaAudio      MediaMode = "audio"
	MediaData       MediaMode = "data"
	MediaConnecting MediaMode = "connecting"
	MediaLost       MediaMode = "lost"
)

// Valid reports whether m is a known mode.
func (m MediaMode) Valid() bool {
	switch m {
	case MediaVideo, MediaAudio, MediaData, MediaConnecting, MediaLost:
		return true
	}
	return false
}

// MediaKind is what a participant asks to publish.
type MediaKind string

const (
	KindAudio  MediaKind = "audio"
	KindCamera MediaKind = "camera"
	KindScreen MediaKind = "screen"
)

// LeaveReason says why an attendance record was closed.
type LeaveReason string

const (
	LeaveDisconnected LeaveReason = "disconnected" // lost the connection and did not come back within the grace
	LeaveLeft         LeaveReason = "left"         // left on purpose
	LeaveRemoved      LeaveReason = "removed"      // removed by a host
	LeaveEnded        LeaveReason = "ended"        // the room ended while present
)

// checkText validates user text: valid UTF-8, non-empty, at most max runes,
// no control characters (newlines and tabs allowed where multiline is true) and no
// bidirectional overrides, which can make a message display as something
// other than what was sent.
func checkText(field, s string, max int, multiline bool) error {
	if s == "" {
		return invalid(field, "live.err.text_empty")
	}
	if !utf8.ValidString(s) {
		return invalid(field, "live.err.text_control")
	}
	n := 0
	for _, c := range s {
		n++
		if (c == '\n' || c == '\t') && multiline {
			continue
		}
		if unicode.IsControl(c) || isBidiOverride(c) {
			return invalid(field, "live.err.text_control")
		}
	}
	if n > max {
		return invalid(field, "live.err.text_too_long", max)
	}
	return nil
}

func isBidiOverride(c rune) bool {
	return c >= '\u202a' && c <= '\u202e' || c >= '\u2066' && c <= '\u2069'
}

// utc drops the monotonic reading and the zone: times leave the room in
// UTC (attendance, JSON) and compare with ==.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }
