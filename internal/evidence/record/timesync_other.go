//go:build !linux

package record

func kernelSyncState() (syncState, bool) { return syncState{}, false }
