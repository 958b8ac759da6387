package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func TestTURNCredentialsExpire(t *testing.T) {
	key := []byte("0123456789abcdef")
	now := time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	auth := turnAuth(key, clock)
	user, pass := turnCredentials(key, "eleve:42", now.Add(time.Hour))

	id, got, ok := auth(&turn.RequestAttributes{Username: user, Realm: "preau"})
	if !ok || id != user {
		t.Fatalf("fresh credentials refused")
	}
	if want := turn.GenerateAuthKey(user, "preau", pass); !bytes.Equal(got, want) {
		t.Fatalf("key does not match the password given to the client")
	}
	now = now.Add(2 * time.Hour)
	if _, _, ok := auth(&turn.RequestAttributes{Username: user, Realm: "preau"}); ok {
		t.Fatal("expired credentials accepted")
	}
	for _, u := range []string{"", "eleve", "abc:eleve", "-1:x"} {
		if _, _, ok := auth(&turn.RequestAttributes{Username: u, Realm: "preau"}); ok {
			t.Errorf("username %q accepted", u)
		}
	}
	other, _ := turnCredentials([]byte("another key, other node"), "eleve", now.Add(time.Hour))
	_, k1, _ := auth(&turn.RequestAttributes{Username: other, Realm: "preau"})
	_, p2 := turnCredentials([]byte("another key, other node"), "eleve", now.Add(time.Hour))
	if bytes.Equal(k1, turn.GenerateAuthKey(other, "preau", p2)) {
		t.Fatal("a password from another key matches")
	}
}
