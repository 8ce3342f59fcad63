//go:build !linux

package scriptrun

import "syscall"

// tieToServer has nothing to do where the OS cannot signal a child when
// its parent dies: start-up stops what a crash left through the process
// group the intent records.
func tieToServer(*syscall.SysProcAttr) {}
