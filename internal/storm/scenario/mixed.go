package scenario

import (
	"context"
	"sync"

	"preau/internal/storm/load"
)

// Mixed runs the lockdown morning m and the flood f against t at the same
// time and returns what each measured. Both start at once; the students'
// ramp runs under the flood.
func Mixed(ctx context.Context, t Target, m Morning, f Flood) (MorningResult, load.Result) {
	var (
		wg    sync.WaitGroup
		flood load.Result
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		flood = f.Run(ctx, t)
	}()
	morning := m.Run(ctx, t, nil)
	wg.Wait()
	return morning, flood
}
