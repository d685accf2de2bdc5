package helper

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"
)

// The ruleset is built with the raw system calls rather than with
// github.com/landlock-lsm/go-landlock (v0.11.2 was weighed), because:
//
//   - The policy is "everything but the hidden paths", which takes a rule for
//     each entry of the folders around a hidden path, with folder or file
//     rights by what the entry is. add opens the entry with O_NOFOLLOW and
//     reads its type from that descriptor, so an entry swapped for a symbolic
//     link after the listing grants nothing beyond the link, never its target
//     (which may be hidden). go-landlock opens a rule's paths itself,
//     following links, with rights fixed beforehand, and fails the whole
//     ruleset on a file that was given folder rights.
//   - An entry the step's user may not open is skipped, being out of its reach
//     anyway; go-landlock can skip missing paths only.
//   - go-landlock restricts every thread of the process, on kernels before
//     ABI 8 through the libcap psx module (a signal to each thread, and C code
//     linked into the server in cgo builds). The helper needs its one locked
//     thread restricted: that thread executes the step, and exec keeps no
//     other.
//
// The server decides the ABI (planLandlock refuses version 1, where no file
// can move between folders); restrictSelf handles exactly the rights of that
// ABI and grants them all outside the hidden paths, REFER included.

// Landlock keeps a process-level step away from the server's files with the
// Landlock LSM: everything stays as on the host, except that the hidden paths
// can be neither read nor changed. Being in a Landlock domain also keeps the
// step from tracing processes outside it, the server included, or reading
// their /proc files (environ, memory).
type Landlock struct {
	// ABI is the kernel's Landlock ABI version, as the server probed it.
	ABI int `json:"abi"`
	// Hidden are the paths the step may not reach. The folders above them
	// can still be listed, but take no new entries.
	Hidden []string `json:"hidden,omitempty"`
	// Open are paths inside hidden ones that the step may use fully: its
	// workspace.
	Open []string `json:"open,omitempty"`
	// NoTCP denies binding and connecting TCP sockets (ABI 4 and later).
	NoTCP bool `json:"no_tcp,omitempty"`
}

// ABI returns the Landlock ABI version of the running kernel, 0 when it has
// none or it is disabled.
func ABI() int {
	v, _, errno := syscall.Syscall(sysLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// rulesetAttr is struct landlock_ruleset_attr up to handled_access_net; the
// kernel is told how much of it there is.
type rulesetAttr struct {
	fs, net uint64
}

// ruleset is a Landlock ruleset being filled.
type ruleset struct {
	fd        int
	dirRights uint64 // every file system right of the ABI
	fileRight uint64 // those that apply to files
}

// restrictSelf puts the calling thread (and what it executes) in a Landlock
// domain that allows everything but the hidden paths. The caller must have
// set no_new_privs.
func (l *Landlock) restrictSelf() error {
	r := ruleset{dirRights: 1<<13 - 1} // ABI 1: EXECUTE … MAKE_SYM
	r.fileRight = landlockAccessFSExecute | landlockAccessFSWriteFile | landlockAccessFSReadFile
	if l.ABI >= 2 {
		r.dirRights |= landlockAccessFSRefer
	}
	if l.ABI >= 3 {
		r.dirRights |= landlockAccessFSTruncate
		r.fileRight |= landlockAccessFSTruncate
	}
	if l.ABI >= 5 {
		r.dirRights |= landlockAccessFSIoctlDev
		r.fileRight |= landlockAccessFSIoctlDev
	}
	attr, size := rulesetAttr{fs: r.dirRights}, unsafe.Sizeof(uint64(0))
	if l.NoTCP && l.ABI >= 4 {
		attr.net, size = landlockAccessNetBindTCP|landlockAccessNetConnectTCP, unsafe.Sizeof(attr)
	}
	fd, _, errno := syscall.Syscall(sysLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("create ruleset: %w", errno)
	}
	r.fd = int(fd)
	defer syscall.Close(r.fd)
	for _, root := range append([]string{"/"}, l.Open...) {
		if err := r.grant(root, l.Hidden); err != nil {
			return err
		}
	}
	if _, _, errno := syscall.Syscall(sysLandlockRestrictSelf, uintptr(r.fd), 0, 0); errno != 0 {
		return fmt.Errorf("restrict: %w", errno)
	}
	return nil
}

// grant allows everything beneath p but the hidden paths. A rule covers a
// whole tree, so around a hidden path each of its folder's other entries is
// granted by a rule of its own, and the folder itself may only be listed.
// Symbolic links are skipped: access through one is checked at its target.
func (r *ruleset) grant(p string, hidden []string) error {
	var inside []string
	for _, h := range hidden {
		if h == p {
			return nil
		}
		if strings.HasPrefix(h, strings.TrimSuffix(p, "/")+"/") {
			inside = append(inside, h)
		}
	}
	if len(inside) == 0 {
		return r.add(p, r.dirRights)
	}
	if err := r.add(p, landlockAccessFSReadDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil // what cannot be listed stays out of reach
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 {
			continue
		}
		if err := r.grant(strings.TrimSuffix(p, "/")+"/"+e.Name(), inside); err != nil {
			return err
		}
	}
	return nil
}

// add grants rights beneath p; files get the rights that apply to files.
func (r *ruleset) add(p string, rights uint64) error {
	fd, err := syscall.Open(p, oPath|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) {
		return nil // gone meanwhile, or out of the step's reach anyway
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		rights &= r.fileRight
	}
	rule := pathBeneathAttr{allowedAccess: rights, parentFd: int32(fd)}
	_, _, errno := syscall.Syscall6(sysLandlockAddRule, uintptr(r.fd), landlockRulePathBeneath,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("rule for %s: %w", p, errno)
	}
	return nil
}
