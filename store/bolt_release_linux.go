package store

import (
	"fmt"
	"syscall"
)

// releaseMap drops the size bytes mapped at addr from the process's page
// tables. addr is the start of a shared file mapping, so nothing is lost.
func releaseMap(addr uintptr, size int64) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("store: releasing the map's pages: %w", errno)
	}
	return nil
}
