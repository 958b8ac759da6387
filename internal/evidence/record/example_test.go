package record_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"preau/internal/evidence/journal"
	"preau/internal/evidence/record"
	"preau/internal/shield/detect"
)

func Example() {
	dir, err := os.MkdirTemp("", "record-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	now := time.Date(2024, 3, 4, 10, 0, 30, 0, time.UTC)
	quiet := slog.New(slog.DiscardHandler)
	r, err := record.Open(record.Config{Dir: dir, Origin: "example.preau/evidence", Now: func() time.Time { return now },
		ClockSource: "example", Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	// The detector is given r as its Sink; the shield calls r.Request for
	// every request, and r.Run(ctx) writes in the background.
	ep := &detect.Episode{ID: "ep-20240304T100000Z-1", Start: now.Add(-30 * time.Second)}
	r.Emit(detect.Event{Seq: 1, Time: now, Kind: "episode_start", Episode: ep})
	for i := range 3 {
		r.Request(record.RequestSample{Time: now.Add(time.Duration(i) * time.Second), Addr: netip.MustParseAddr("203.0.113.7"),
			Method: "POST", Path: "/login?user=x", Status: 429, Agent: "curl/8.0", Class: "anonymous", Outcome: "limited"})
	}
	end := *ep
	end.End = now.Add(time.Minute)
	r.Emit(detect.Event{Seq: 2, Time: now.Add(70 * time.Second), Kind: "episode_end", Episode: &end})
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}

	j, err := journal.Open(filepath.Join(dir, record.Sources, "2024-03"), journal.Options{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	rec, err := j.Record(0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", rec)
	// Output: {"v":1,"kind":"source_minute","time":"2024-03-04T10:00:30Z","minute":"2024-03-04T10:00:00Z","episode":"ep-20240304T100000Z-1","addr":"203.0.113.7","requests":3,"outcomes":{"limited":3},"paths":{"/login":3},"agent":"curl/8.0","first":"2024-03-04T10:00:30Z","last":"2024-03-04T10:00:32Z"}
}
