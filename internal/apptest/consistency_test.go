// Read-your-writes on one node while others read the same data: once a
// write has been answered (a teacher publishes, a pupil ticks "done"), the
// next read must show it, even when other requests were reading the same
// lists at that moment. The server puts a read-through cache in front of
// the database (internal/store/cache); this test hammers the lists it
// caches from background clients while writing, and counts stale reads.
package apptest_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadsAfterWritesAreFresh(t *testing.T) {
	s := newSchool(t)
	eleve, prof := s.api(t, "eleve"), s.api(t, "prof")
	maths := findHomework(t, eleve, "Devoir maison n° 3 : fractions")
	w := window()

	// Background readers: the same pupil on other devices, and classmates.
	var stop atomic.Bool
	var wg sync.WaitGroup
	poll := func(token, path string) {
		defer wg.Done()
		for !stop.Load() {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	for _, login := range []string{"eleve", "e1.2", "e1.3", "e1.4", "e1.5", "e1.6"} {
		wg.Add(1)
		go poll(s.LoginAPI(t, login, demoPassword).Token, "/api/v1/homework"+w) // the class's list
	}
	for range 4 {
		wg.Add(1)
		go poll(s.LoginAPI(t, "eleve", demoPassword).Token, "/api/v1/homework/"+id(maths.ID)) // eleve's statuses
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	// Writes follow each other closely, as on a busy morning: a stale
	// result needs a read that missed just after one write to finish just
	// after the next one.
	staleLists, staleTicks := 0, 0
	const rounds = 200
	for i := range rounds {
		now := time.Now()
		code, e, ae := publishJSON(t, prof, homework(maths.ClassID, "Exercice "+id(int64(i)), now.Add(-time.Minute), now.Add(24*time.Hour)))
		if code != http.StatusCreated {
			t.Fatalf("publish: %d %+v", code, ae)
		}
		var list struct {
			Homework []entryJSON `json:"homework"`
		}
		if code := eleve.Do("GET", "/api/v1/homework"+w, nil, &list); code != http.StatusOK || !containsEntry(list.Homework, e.ID) {
			staleLists++
		}
	}
	for i := range rounds {
		done := i%2 == 0
		method := map[bool]string{true: "PUT", false: "DELETE"}[done]
		if code := eleve.Do(method, "/api/v1/homework/"+id(maths.ID)+"/done", nil, nil); code != http.StatusNoContent {
			t.Fatalf("tick: %d", code)
		}
		var got entryJSON
		if eleve.Do("GET", "/api/v1/homework/"+id(maths.ID), nil, &got); got.Status == nil || got.Status.Done != done {
			staleTicks++
		}
	}
	t.Logf("stale: %d lists, %d ticks", staleLists, staleTicks)
	if staleLists+staleTicks > 0 {
		t.Errorf("over %d rounds: %d homework lists missed homework published just before, %d statuses missed the tick just made",
			rounds, staleLists, staleTicks)
	}
}
