package helper

import "syscall"

// The kernel's constants the helpers use, spelled out so that this package
// imports the standard library only. Go initialises packages in import-path
// order among those whose imports are done: importing golang.org/x/sys/unix
// would put the helper's init after every github.com/… package of the
// server, whose inits then run before each step (157 of them, 1.7 ms, and
// tens of megabytes touched, measured), twice per step.
const (
	prSetPdeathsig      = 1  // PR_SET_PDEATHSIG
	prSetDumpable       = 4  // PR_SET_DUMPABLE
	prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER
	prSetNoNewPrivs     = 38 // PR_SET_NO_NEW_PRIVS

	// The Landlock system calls have the same numbers on every architecture.
	sysLandlockCreateRuleset = 444
	sysLandlockAddRule       = 445
	sysLandlockRestrictSelf  = 446

	landlockCreateRulesetVersion = 1 << 0
	landlockRulePathBeneath      = 1

	landlockAccessFSExecute   = 1 << 0
	landlockAccessFSWriteFile = 1 << 1
	landlockAccessFSReadFile  = 1 << 2
	landlockAccessFSReadDir   = 1 << 3
	landlockAccessFSRefer     = 1 << 13
	landlockAccessFSTruncate  = 1 << 14
	landlockAccessFSIoctlDev  = 1 << 15

	landlockAccessNetBindTCP    = 1 << 0
	landlockAccessNetConnectTCP = 1 << 1

	oPath = 0x200000 // O_PATH

	sigUnblock = 1 // SIG_UNBLOCK
)

// prctl is prctl(2) with the arguments it takes here.
func prctl(option int, arg uintptr) error {
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, uintptr(option), arg, 0, 0, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// pathBeneathAttr is struct landlock_path_beneath_attr; the kernel reads its
// packed 12 bytes, and the padding Go adds after them is never read.
type pathBeneathAttr struct {
	allowedAccess uint64
	parentFd      int32
}
