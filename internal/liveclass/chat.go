package liveclass

import (
	"fmt"
	"strings"
)

// Chat and reaction limits.
const (
	MaxChatRunes = 1000
)

// Reactions is the fixed set of reaction codes; the page maps each to an
// emoji and a label, so that screen readers say "slower" rather than an
// emoji name.
var Reactions = []string{"thumbs_up", "clap", "laugh", "surprised", "question", "slower", "faster"}

// Chat posts a message from pid to everyone in the room. The text is
// trimmed; it must be non-empty, at most MaxChatRunes runes, without
// control characters other than newlines and tabs. Each participant may send
// Config.ChatRate messages (5 per 10 s by default, in a burst). With
// Config.KeepChat, the message is kept before anyone sees it.
//
// Errors: ErrInvalid (field "text"), ErrRateLimited, ErrNotKept, and the actor errors
// ErrRoomEnded, ErrNoSuchParticipant, ErrRemoved, ErrNotInRoom.
func (r *Room) Chat(pid ParticipantID, text string) (ChatMessage, error) {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return ChatMessage{}, r.fail("chat", pid, err)
	}
	text = strings.TrimSpace(text)
	if err := checkText("text", text, MaxChatRunes, true); err != nil {
		return ChatMessage{}, r.fail("chat", pid, err)
	}
	if !p.chatRate.allow(now, r.cfg.ChatRate) {
		return ChatMessage{}, r.fail("chat", pid, ErrRateLimited)
	}
	msg := ChatMessage{Seq: r.chatSeq + 1, From: p.id, Name: p.name, Role: p.role, Text: text, At: now}
	if r.cfg.KeepChat != nil {
		if err := r.cfg.KeepChat(msg); err != nil {
			return ChatMessage{}, r.fail("chat", pid, fmt.Errorf("%w: %w", ErrNotKept, err))
		}
	}
	r.chatSeq++
	r.emit(KindChat, toAll, msg)
	r.chat.add(msg, r.seq)
	return msg, nil
}

// React sends an ephemeral reaction (one of Reactions) to everyone. It is
// not kept: a participant who was away does not get it back.
//
// Errors: ErrInvalid (field "reaction"), ErrRateLimited, actor errors.
func (r *Room) React(pid ParticipantID, reaction string) error {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return r.fail("react", pid, err)
	}
	known := false
	for _, c := range Reactions {
		known = known || c == reaction
	}
	if !known {
		return r.fail("react", pid, invalid("reaction", "live.err.reaction"))
	}
	if !p.reactionRate.allow(now, r.cfg.ReactionRate) {
		return r.fail("react", pid, ErrRateLimited)
	}
	r.emitEphemeral(KindReaction, toAll, Reaction{Participant: p.id, Reaction: reaction})
	return nil
}

// ChatHistory returns the messages after chat seq after still kept, for a
// transport that resumes a chat panel by itself.
func (r *Room) ChatHistory(after uint64) []ChatMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chat.tail(after, 0)
}

// chatLog keeps the last messages in a ring, each with the Seq of the
// event that carried it (to turn an event seq into a chat position).
type chatLog struct {
	buf   []chatEntry
	start int
	n     int
}

type chatEntry struct {
	msg ChatMessage
	ev  uint64
}

func newChatLog(size int) chatLog { return chatLog{buf: make([]chatEntry, size)} }

func (l *chatLog) at(i int) *chatEntry { return &l.buf[(l.start+i)%len(l.buf)] }

func (l *chatLog) add(m ChatMessage, ev uint64) {
	if l.n < len(l.buf) {
		*l.at(l.n) = chatEntry{m, ev}
		l.n++
		return
	}
	l.buf[l.start] = chatEntry{m, ev}
	l.start = (l.start + 1) % len(l.buf)
}

// tail returns the kept messages with chat seq > after, extended back to
// at least the last min messages.
func (l *chatLog) tail(after uint64, min int) []ChatMessage {
	from := l.n
	for from > 0 && l.at(from-1).msg.Seq > after {
		from--
	}
	if l.n-from < min {
		from = max(0, l.n-min)
	}
	if from == l.n {
		return nil
	}
	out := make([]ChatMessage, 0, l.n-from)
	for i := from; i < l.n; i++ {
		out = append(out, l.at(i).msg)
	}
	return out
}

// seenAt is the chat seq of the last message carried by an event at or
// before event seq, 0 if none is kept.
func (l *chatLog) seenAt(seq uint64) uint64 {
	for i := l.n - 1; i >= 0; i-- {
		if e := l.at(i); e.ev <= seq {
			return e.msg.Seq
		}
	}
	return 0
}
