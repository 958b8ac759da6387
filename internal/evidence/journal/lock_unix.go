//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package journal

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on f, so that two processes
// (say a running server and an operator's Repair) never write one journal.
func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("journal: %s is in use by another process: %w", f.Name(), err)
	}
	return nil
}
