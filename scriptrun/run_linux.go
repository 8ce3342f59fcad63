package scriptrun

import "syscall"

// tieToServer makes the kernel SIGKILL the script when the server dies,
// however it dies. The signal reaches the script only, not what it started:
// start-up kills the rest through the process group the intent records.
func tieToServer(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
