package record

import (
	"errors"
	"io/fs"
	"os"
)

// syncState is what the host says about its clock's synchronisation.
type syncState struct {
	synced     string // "yes", "no" or "unknown"
	source     string // how synced was found out
	maxErrorUS *int64 // the kernel's maximum error estimate, microseconds
	estErrorUS *int64 // the kernel's estimated error, microseconds
}

// timesyncdFlag exists while systemd-timesyncd considers the clock
// synchronised.
const timesyncdFlag = "/run/systemd/timesync/synchronized"

// readSyncState asks the kernel (adjtimex, read-only) and then
// systemd-timesyncd, and says "unknown" when neither can tell. It never runs
// a program: the recorder must not depend on what is installed.
func readSyncState() syncState {
	if st, ok := kernelSyncState(); ok {
		return st
	}
	if _, err := os.Stat(timesyncdFlag); err == nil {
		return syncState{synced: "yes", source: "systemd-timesyncd"}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return syncState{synced: "unknown"}
	}
	// The flag's absence proves nothing: chrony or ntpd may be keeping
	// time without timesyncd.
	return syncState{synced: "unknown"}
}
