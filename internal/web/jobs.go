package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"preau/internal/domain"
	"preau/internal/importer"
)

// jobs runs imports in the background. Results, which include initial
// passwords, live only in memory, only for the admin who started the job,
// and are forgotten an hour after they finish.
type jobs struct {
	log *slog.Logger
	mu  sync.Mutex
	m   map[string]*job
}

type job struct {
	owner domain.UserID
	state jobStatus
	ended time.Time
}

// jobStatus is what the progress page shows.
type jobStatus struct {
	Done, Total int
	Finished    bool
	Result      importer.Result
	Err         error
}

// Percent is the share of passwords hashed.
func (s jobStatus) Percent() int {
	if s.Total == 0 {
		return 0
	}
	return s.Done * 100 / s.Total
}

const jobRetention = time.Hour

func newJobs(log *slog.Logger) *jobs { return &jobs{log: log, m: map[string]*job{}} }

// start runs fn in the background and returns the job's id.
func (js *jobs) start(owner domain.UserID, fn func(context.Context, importer.Progress) (importer.Result, error)) string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand never fails on Linux
	id := hex.EncodeToString(b[:])
	j := &job{owner: owner}
	js.mu.Lock()
	for k, old := range js.m {
		if !old.ended.IsZero() && time.Since(old.ended) > jobRetention {
			delete(js.m, k)
		}
	}
	js.m[id] = j
	js.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		res, err := fn(ctx, func(done, total int) {
			js.mu.Lock()
			j.state.Done, j.state.Total = done, total
			js.mu.Unlock()
		})
		if err != nil {
			js.log.Error("import job", "id", id, "err", err)
		}
		js.mu.Lock()
		j.state.Finished, j.state.Result, j.state.Err, j.ended = true, res, err, time.Now()
		js.mu.Unlock()
	}()
	return id
}

// status returns a job's state if owner started it.
func (js *jobs) status(id string, owner domain.UserID) (jobStatus, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.m[id]
	if !ok || j.owner != owner {
		return jobStatus{}, false
	}
	return j.state, true
}
