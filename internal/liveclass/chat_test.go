package liveclass

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChatMessagesAreNumberedRoomWide(t *testing.T) {
	f := newRoomWith(t, 2)
	var seqs []uint64
	for i, from := range []ParticipantID{f.teacher, f.students[0], f.students[1], f.teacher} {
		m, err := f.room.Chat(from, "  message  ")
		f.must(err)
		if m.Text != "message" {
			t.Fatalf("text not trimmed: %q", m.Text)
		}
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		seqs = append(seqs, m.Seq)
	}
	if h := f.room.ChatHistory(2); len(h) != 2 || h[0].Seq != 3 {
		t.Fatalf("history after 2: %+v", h)
	}
}

func TestChatRefusesEmptyLongAndControlText(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	for text, key := range map[string]string{
		"":                             "live.err.text_empty",
		" \n\t ":                       "live.err.text_empty",
		strings.Repeat("é", 1001):      "live.err.text_too_long",
		"bell\a":                       "live.err.text_control",
		"esc\x1b[31m":                  "live.err.text_control",
		"a\u202egnp.exe":               "live.err.text_control",
		"invalid \xff utf-8":           "live.err.text_control",
		"carriage\rreturn":             "live.err.text_control",
		"next line\u0085is C1 control": "live.err.text_control",
	} {
		_, err := f.room.Chat(pupil, text)
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: err = %v", text, err)
		}
		if e := ErrorOf(err); e.Key != key || e.Field != "text" {
			t.Errorf("%q: key %q field %q, want %q", text, e.Key, e.Field, key)
		}
	}
	_, err := f.room.Chat(pupil, strings.Repeat("é", 1000))
	f.must(err)
	_, err = f.room.Chat(pupil, "two\nlines\twith a tab")
	f.must(err)
}

func TestChatIsRateLimitedPerParticipant(t *testing.T) {
	f := newRoomWith(t, 2)
	a, b := f.students[0], f.students[1]
	for i := range 5 {
		_, err := f.room.Chat(a, "spam")
		if err != nil {
			t.Fatalf("message %d of the burst refused: %v", i, err)
		}
	}
	_, err := f.room.Chat(a, "spam")
	wantErr(t, err, ErrRateLimited)
	if ErrorOf(err).Code != "rate_limited" {
		t.Fatal(err)
	}
	_, err = f.room.Chat(b, "moi je peux")
	f.must(err)

	f.clock.Advance(2 * time.Second)
	_, err = f.room.Chat(a, "one more")
	f.must(err)
	_, err = f.room.Chat(a, "and another")
	wantErr(t, err, ErrRateLimited)
}

func TestChatHistoryIsBounded(t *testing.T) {
	f := newRoomWith(t, 0, func(c *Config) { c.ChatHistory = 10; c.ChatRate = Rate{Burst: 1000, Every: time.Millisecond} })
	for range 25 {
		_, err := f.room.Chat(f.teacher, "x")
		f.must(err)
	}
	h := f.room.ChatHistory(0)
	if len(h) != 10 || h[0].Seq != 16 || h[9].Seq != 25 {
		t.Fatalf("history %d messages from %d", len(h), h[0].Seq)
	}
}

func TestReactionsAreEphemeralAndFromAFixedSet(t *testing.T) {
	f := newRoomWith(t, 1)
	pupil := f.students[0]
	host := f.subscribe(f.teacher)
	f.must(f.room.React(pupil, "slower"))
	evs := drain(host)
	if len(evs) != 1 || evs[0].Kind != KindReaction || evs[0].Seq != 0 {
		t.Fatalf("events %+v", evs)
	}
	if _, err := f.room.Since(f.teacher, 0); err != nil {
		t.Fatal(err)
	}
	if evs, _ := f.room.Since(f.teacher, 1); hasKind(evs, KindReaction) {
		t.Fatal("a reaction was replayed")
	}
	wantErr(t, f.room.React(pupil, "💩"), ErrInvalid)
	for range 4 {
		f.must(f.room.React(pupil, "clap"))
	}
	wantErr(t, f.room.React(pupil, "clap"), ErrRateLimited)
}

// With KeepChat, a message is kept before anyone sees it; a message that
// cannot be kept is refused, shown to nobody, and does not use a number.
func TestChatIsKeptBeforeItIsShown(t *testing.T) {
	var kept []ChatMessage
	fail := false
	keep := func(c *Config) {
		c.KeepChat = func(m ChatMessage) error {
			if fail {
				return errors.New("disk full")
			}
			kept = append(kept, m)
			return nil
		}
	}
	f := newRoomWith(t, 1, keep)
	watcher := f.subscribe(f.teacher)
	m, err := f.room.Chat(f.students[0], " bonjour ")
	f.must(err)
	if len(kept) != 1 || kept[0] != m || m.Seq != 1 || m.Text != "bonjour" {
		t.Fatalf("kept %+v, sent %+v", kept, m)
	}

	fail = true
	_, err = f.room.Chat(f.students[0], "perdu ?")
	if !errors.Is(err, ErrNotKept) || ErrorOf(err).Key != "live.err.not_kept" {
		t.Fatalf("a message that cannot be kept: %v", err)
	}
	fail = false
	m, err = f.room.Chat(f.teacher, "encore")
	f.must(err)
	if m.Seq != 2 || len(kept) != 2 {
		t.Fatalf("after a refusal: seq %d, kept %d", m.Seq, len(kept))
	}
	var shown []string
	for _, ev := range drain(watcher) {
		if c, ok := ev.Data.(ChatMessage); ok && ev.Kind == KindChat {
			shown = append(shown, c.Text)
		}
	}
	if strings.Join(shown, "|") != "bonjour|encore" {
		t.Fatalf("shown %q", shown)
	}
	if h := f.room.ChatHistory(0); len(h) != 2 {
		t.Fatalf("history %+v", h)
	}
}
