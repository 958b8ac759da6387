package record

import "syscall"

// Kernel clock states and status bits (see adjtimex(2)).
const (
	timeError = 5    // TIME_ERROR: the clock is not synchronised
	staUnsync = 0x40 // STA_UNSYNC
)

// kernelSyncState reads the kernel's NTP state with adjtimex(2) without
// changing anything (Modes 0), which needs no privilege. In a container it
// reads the host's kernel, whose clock is the one in use.
func kernelSyncState() (syncState, bool) {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return syncState{}, false
	}
	maxErr, estErr := tx.Maxerror, tx.Esterror
	st := syncState{synced: "yes", source: "adjtimex", maxErrorUS: &maxErr, estErrorUS: &estErr}
	if state == timeError || tx.Status&staUnsync != 0 {
		st.synced = "no"
	}
	return st, true
}
