package liveclass

import (
	"testing"
)

func TestEachParticipantCountsOnceAndMayChangeItsVoteWhileOpen(t *testing.T) {
	f := newRoomWith(t, 3)
	p, err := f.room.CreatePoll(f.teacher, " Combien font 7×8 ? ", []string{"54", "56", " 64 "})
	f.must(err)
	if p.Question != "Combien font 7×8 ?" || p.Options[2] != "64" || p.Counts != nil {
		t.Fatalf("poll %+v", p)
	}
	f.must(f.room.Vote(f.students[0], p.ID, 1))
	f.must(f.room.Vote(f.students[0], p.ID, 1)) // again: still one vote
	f.must(f.room.Vote(f.students[1], p.ID, 0))
	f.must(f.room.Vote(f.students[1], p.ID, 1)) // changed its mind
	f.must(f.room.Vote(f.students[2], p.ID, 2))

	snap, _ := f.room.Snapshot(f.teacher)
	got := snap.Polls[0]
	if got.Voters != 3 || got.Counts[0] != 0 || got.Counts[1] != 2 || got.Counts[2] != 1 {
		t.Fatalf("counts %v voters %d", got.Counts, got.Voters)
	}
	wantErr(t, f.room.Vote(f.students[0], p.ID, 3), ErrInvalid)
	wantErr(t, f.room.Vote(f.students[0], "p99", 0), ErrNoSuchPoll)
}

func TestPollResultsAreForStaffWhileOpenAndForEveryoneOnceClosed(t *testing.T) {
	f := newRoomWith(t, 2)
	g := f.join(guest)
	pupil := f.students[0]
	pupilSub, guestSub := f.subscribe(pupil), f.subscribe(g)
	p, err := f.room.CreatePoll(f.teacher, "Avez-vous compris ?", []string{"oui", "non"})
	f.must(err)
	f.must(f.room.Vote(pupil, p.ID, 0))

	pupilEvs := drain(pupilSub)
	if hasKind(pupilEvs, KindPollResults) || !hasKind(pupilEvs, KindPollVote) {
		t.Fatalf("the student saw %v", kinds(pupilEvs))
	}
	if !hasKind(drain(guestSub), KindPollResults) {
		t.Fatal("the guest did not see the live results")
	}
	snap, _ := f.room.Snapshot(f.students[1])
	if snap.Polls[0].Counts != nil || snap.Polls[0].YourVote != nil {
		t.Fatalf("an open poll shows counts to a student: %+v", snap.Polls[0])
	}
	snap, _ = f.room.Snapshot(pupil)
	if v := snap.Polls[0].YourVote; v == nil || *v != 0 {
		t.Fatalf("the student does not see its own vote: %+v", snap.Polls[0])
	}

	closed, err := f.room.ClosePoll(f.teacher, p.ID)
	f.must(err)
	if closed.Open || closed.Counts[0] != 1 {
		t.Fatalf("closed poll %+v", closed)
	}
	evs := drain(pupilSub)
	if len(evs) != 1 || evs[0].Kind != KindPollClosed || evs[0].Data.(PollView).Counts[0] != 1 {
		t.Fatalf("on close the student saw %v", kinds(evs))
	}
	wantErr(t, f.room.Vote(pupil, p.ID, 1), ErrPollClosed)
	_, err = f.room.ClosePoll(f.teacher, p.ID)
	wantErr(t, err, ErrPollClosed)
}

func TestOnlyOnePollIsOpenAtATime(t *testing.T) {
	f := newRoomWith(t, 0)
	p, err := f.room.CreatePoll(f.teacher, "Q1", []string{"a", "b"})
	f.must(err)
	_, err = f.room.CreatePoll(f.teacher, "Q2", []string{"a", "b"})
	wantErr(t, err, ErrPollOpen)
	_, err = f.room.ClosePoll(f.teacher, p.ID)
	f.must(err)
	_, err = f.room.CreatePoll(f.teacher, "Q2", []string{"a", "b"})
	f.must(err)
}

func TestAPollNeedsAQuestionAndTwoToSixDistinctOptions(t *testing.T) {
	f := newRoomWith(t, 0)
	long := string(make([]rune, 0))
	for range 201 {
		long += "x"
	}
	for name, c := range map[string]struct {
		q     string
		opts  []string
		field string
	}{
		"no question":    {"  ", []string{"a", "b"}, "question"},
		"long question":  {long, []string{"a", "b"}, "question"},
		"one option":     {"Q", []string{"a"}, "options"},
		"seven options":  {"Q", []string{"1", "2", "3", "4", "5", "6", "7"}, "options"},
		"empty option":   {"Q", []string{"a", " "}, "options"},
		"same option":    {"Q", []string{"Oui", "oui"}, "options"},
		"control option": {"Q", []string{"a", "b\x07"}, "options"},
	} {
		_, err := f.room.CreatePoll(f.teacher, c.q, c.opts)
		wantErr(t, err, ErrInvalid)
		if ErrorOf(err).Field != c.field {
			t.Errorf("%s: field %q", name, ErrorOf(err).Field)
		}
	}
}

func TestOldPollsAreForgotten(t *testing.T) {
	f := newRoomWith(t, 0, func(c *Config) { c.PollHistory = 3 })
	for range 5 {
		p, err := f.room.CreatePoll(f.teacher, "Q", []string{"a", "b"})
		f.must(err)
		_, err = f.room.ClosePoll(f.teacher, p.ID)
		f.must(err)
	}
	snap, _ := f.room.Snapshot(f.teacher)
	if len(snap.Polls) != 3 || snap.Polls[0].ID != "p3" {
		t.Fatalf("polls %+v", snap.Polls)
	}
}
