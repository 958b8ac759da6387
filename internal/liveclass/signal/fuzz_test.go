package signal

import (
	"errors"
	"reflect"
	"testing"

	"preau/internal/liveclass"
)

// FuzzParse checks that Parse never panics, that every refusal is a
// *ParseError carrying a code, and that every accepted frame re-encodes
// to a frame Parse accepts and decodes to the same message.
func FuzzParse(f *testing.F) {
	for _, g := range good {
		f.Add([]byte(g.frame))
	}
	for _, b := range bad {
		if len(b.frame) < 4096 {
			f.Add([]byte(b.frame))
		}
	}
	f.Add([]byte(`{"type":"chat","text":"\u0000\ud800\u2028<>&"}`))
	f.Add([]byte(`{"type":"ice","target":"pub","candidate":{"candidate":"candidate:1","sdpMid":"","usernameFragment":null}}`))
	f.Add([]byte(`{"type":"poll_vote","poll_id":"p1","option":-0}`))
	f.Add([]byte(`{"type":"admit","participant":"","all":true}`))
	f.Add([]byte(`{"type":"hello","last_seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := Parse(frame)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Err == nil || pe.Err.Code == "" || liveclass.ErrorOf(err) == liveclass.ErrInternal {
				t.Fatalf("%q: an error without a code: %#v", frame, err)
			}
			if m != nil {
				t.Fatalf("%q: a message with an error", frame)
			}
			EncodeError(err, "", nil) // must not panic
			return
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("%q: encode: %v", frame, err)
		}
		back, err := Parse(b)
		if err != nil {
			t.Fatalf("%q re-encoded as %q, which fails: %v", frame, b, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("%q re-encoded as %q: %#v, not %#v", frame, b, back, m)
		}
	})
}
