package shield

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Through the shield, the waiting room lets visitors in in the order they
// arrived, and tells each one their place.
func TestWaitingRoomAdmitsInArrivalOrder(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2021, 4, 6, 7, 55, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, Now: clock}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	type answer struct {
		Position int    `json:"position"`
		Next     string `json:"next"`
	}
	visit := func(cookie *http.Cookie) (int, answer, *http.Cookie) {
		req := httptest.NewRequest("GET", WaitPath+"?next=/homework", nil)
		req.Header.Set("Accept", "application/json")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var a answer
		json.NewDecoder(rec.Body).Decode(&a)
		for _, c := range rec.Result().Cookies() {
			if c.Name == "preau_wait" {
				cookie = c
			}
		}
		return rec.Code, a, cookie
	}
	// Five visitors arrive a second apart, then each comes back once.
	cookies := make([]*http.Cookie, 5)
	for i := range cookies {
		code, _, c := visit(nil)
		if code != http.StatusServiceUnavailable || c == nil {
			t.Fatalf("visitor %d: %d", i, code)
		}
		cookies[i] = c
		advance(time.Second)
	}
	for i := range cookies {
		_, a, c := visit(cookies[i])
		cookies[i] = c
		if a.Position != i { // people ahead
			t.Errorf("visitor %d is told %d ahead, want %d", i, a.Position, i)
		}
	}
	// Two places free up: the first two arrivals go in, the others move up.
	s.Room().Admit(2)
	for i := range cookies {
		code, a, c := visit(cookies[i])
		cookies[i] = c
		switch {
		case i < 2 && (code != http.StatusOK || a.Next != "/homework"):
			t.Errorf("visitor %d not admitted: %d %+v", i, code, a)
		case i >= 2 && (code != http.StatusServiceUnavailable || a.Position != i-2):
			t.Errorf("visitor %d: %d, %d ahead, want %d", i, code, a.Position, i-2)
		}
	}
}
