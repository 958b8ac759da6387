// Package liveclass is the live virtual class as a domain: who is in a room,
// what each participant may do, and the shared state of the lesson (chat,
// raised hands, reactions, polls, whiteboard, slides, attendance).
//
// It follows LiveKit's layering: the room knows neither HTTP nor the media
// engine. The transport above it (a WebSocket per participant, see package
// signal for the frames) turns client messages into Room method calls and
// room events into frames; the media layer (a pion SFU) asks the room
// whether a participant may publish ([Room.MayPublish]), reports each
// participant's connection state ([Room.SetMediaMode]) and watches the
// permission events ([Room.Watch]) to stop forwarding a muted microphone.
//
// Every state change becomes an [Event] with a room-wide, increasing
// sequence number and an audience (everyone admitted, staff, or one
// participant). Events go to listeners through bounded buffers: a slow
// listener never blocks the room; when its buffer fills it is told to
// resynchronise from a [Snapshot] instead of silently losing events. A
// reconnecting client sends the last sequence number it saw and gets
// exactly what it missed while that is still in the bounded event log
// ([Room.Since]), or a snapshot otherwise.
//
// A participant is identified per user per room ([ParticipantIDFor]), so a
// reconnection is the same participant: within the grace period
// ([Config.Grace]) a participant who lost the connection comes back with
// its raised hand, its permissions and its place in the chat.
//
// Joining is decided twice: the caller checks enrolment from the signed-in
// session and builds an [Identity], and the room refuses any identity its
// [Config.MayJoin] rejects, so a bug above cannot let a stranger in; there
// is no anonymous link.
//
// All Room and Registry methods are safe for concurrent use. Errors are
// [*Error] values with a stable machine code and an i18n key (listed in
// i18n_keys.md), wrapped with context; use [ErrorOf] to get them back.
package liveclass
