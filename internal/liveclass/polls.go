package liveclass

import (
	"strconv"
	"strings"
	"time"
)

// Poll limits.
const (
	MaxPollQuestionRunes = 200
	MaxPollOptionRunes   = 100
	MinPollOptions       = 2
	MaxPollOptions       = 6
)

// Polls are single choice, one at a time. Every admitted participant may
// vote once and change its vote while the poll is open (a pupil who
// clicked too fast should not be stuck with it). Hosts and guests see the
// counts live; everyone sees them once the poll is closed, so that pupils
// are not swayed by the running tally.
type poll struct {
	id        PollID
	question  string
	options   []string
	by        ParticipantID
	open      bool
	createdAt time.Time
	closedAt  time.Time
	counts    []int
	votes     map[ParticipantID]int
}

// PollView is a poll as one participant sees it.
type PollView struct {
	ID        PollID        `json:"id"`
	Question  string        `json:"question"`
	Options   []string      `json:"options"`
	By        ParticipantID `json:"by"`
	Open      bool          `json:"open"`
	CreatedAt time.Time     `json:"created_at"`
	ClosedAt  time.Time     `json:"closed_at,omitzero"`
	Counts    []int         `json:"counts,omitempty"` // staff, or once closed
	Voters    int           `json:"voters,omitempty"` // with Counts
	YourVote  *int          `json:"your_vote,omitempty"`
}

func (pl *poll) view(p *participant, staff bool) PollView {
	v := PollView{
		ID: pl.id, Question: pl.question, Options: pl.options, By: pl.by, Open: pl.open,
		CreatedAt: pl.createdAt, ClosedAt: pl.closedAt,
	}
	if staff || !pl.open {
		v.Counts = append([]int(nil), pl.counts...)
		v.Voters = len(pl.votes)
	}
	if p != nil {
		if o, ok := pl.votes[p.id]; ok {
			v.YourVote = &o
		}
	}
	return v
}

// CreatePoll opens a poll; only hosts do, and only one poll is open at a
// time. The question and each option are trimmed and checked like chat
// text (at most 200 and 100 runes); 2 to 6 distinct options.
//
// Errors: ErrNotPermitted, ErrPollOpen, ErrInvalid (fields "question",
// "options"), actor errors.
func (r *Room) CreatePoll(by ParticipantID, question string, options []string) (PollView, error) {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.host(by)
	if err != nil {
		return PollView{}, r.fail("create poll", by, err)
	}
	for _, pl := range r.polls {
		if pl.open {
			return PollView{}, r.fail("create poll", by, ErrPollOpen)
		}
	}
	question = strings.TrimSpace(question)
	if err := checkText("question", question, MaxPollQuestionRunes, false); err != nil {
		return PollView{}, r.fail("create poll", by, err)
	}
	if len(options) < MinPollOptions || len(options) > MaxPollOptions {
		return PollView{}, r.fail("create poll", by, invalid("options", "live.err.poll_options", MinPollOptions, MaxPollOptions))
	}
	opts := make([]string, len(options))
	for i, o := range options {
		o = strings.TrimSpace(o)
		if err := checkText("options", o, MaxPollOptionRunes, false); err != nil {
			return PollView{}, r.fail("create poll", by, err)
		}
		for _, prev := range opts[:i] {
			if strings.EqualFold(prev, o) {
				return PollView{}, r.fail("create poll", by, invalid("options", "live.err.poll_duplicate"))
			}
		}
		opts[i] = o
	}
	r.pollSeq++
	pl := &poll{
		id: PollID("p" + strconv.Itoa(r.pollSeq)), question: question, options: opts, by: p.id,
		open: true, createdAt: now, counts: make([]int, len(opts)), votes: map[ParticipantID]int{},
	}
	r.polls = append(r.polls, pl)
	if len(r.polls) > r.cfg.PollHistory {
		r.polls = r.polls[len(r.polls)-r.cfg.PollHistory:] // the open one is the newest
	}
	v := pl.view(nil, false)
	r.emit(KindPollOpened, toAll, v)
	return v, nil
}

func (r *Room) findPoll(id PollID) *poll {
	for _, pl := range r.polls {
		if pl.id == id {
			return pl
		}
	}
	return nil
}

// Vote records pid's choice (option is an index into the options) in an
// open poll, replacing its earlier vote. Voting the same again does
// nothing.
//
// Errors: ErrNoSuchPoll, ErrPollClosed, ErrInvalid (field "option"),
// ErrRateLimited, actor errors.
func (r *Room) Vote(pid ParticipantID, id PollID, option int) error {
	now := r.begin()
	defer r.mu.Unlock()
	p, err := r.actor(pid)
	if err != nil {
		return r.fail("vote", pid, err)
	}
	pl := r.findPoll(id)
	switch {
	case pl == nil:
		return r.fail("vote", pid, ErrNoSuchPoll)
	case !pl.open:
		return r.fail("vote", pid, ErrPollClosed)
	case option < 0 || option >= len(pl.options):
		return r.fail("vote", pid, invalid("option", "live.err.poll_option"))
	}
	prev, voted := pl.votes[pid]
	if voted && prev == option {
		return nil
	}
	if !p.actionRate.allow(now, r.cfg.ActionRate) {
		return r.fail("vote", pid, ErrRateLimited)
	}
	if voted {
		pl.counts[prev]--
	}
	pl.votes[pid] = option
	pl.counts[option]++
	r.emit(KindPollVote, toOne(pid), PollVote{Poll: pl.id, Option: option})
	r.emit(KindPollResults, toStaff, PollResults{Poll: pl.id, Counts: append([]int(nil), pl.counts...), Voters: len(pl.votes)})
	return nil
}

// ClosePoll closes an open poll and shows its results to everyone.
//
// Errors: ErrNotPermitted, ErrNoSuchPoll, ErrPollClosed, actor errors.
func (r *Room) ClosePoll(by ParticipantID, id PollID) (PollView, error) {
	now := r.begin()
	defer r.mu.Unlock()
	if _, err := r.host(by); err != nil {
		return PollView{}, r.fail("close poll", by, err)
	}
	pl := r.findPoll(id)
	switch {
	case pl == nil:
		return PollView{}, r.fail("close poll", by, ErrNoSuchPoll)
	case !pl.open:
		return PollView{}, r.fail("close poll", by, ErrPollClosed)
	}
	pl.open, pl.closedAt = false, now
	v := pl.view(nil, true)
	r.emit(KindPollClosed, toAll, v)
	return v, nil
}
