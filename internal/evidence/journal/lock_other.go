//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package journal

import "os"

// lockFile is a no-op where flock(2) is unavailable; Préau runs on Linux.
func lockFile(*os.File) error { return nil }
