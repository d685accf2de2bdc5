package helper

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
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
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
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
	r.fileRight = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE
	if l.ABI >= 2 {
		r.dirRights |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if l.ABI >= 3 {
		r.dirRights |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
		r.fileRight |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if l.ABI >= 5 {
		r.dirRights |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
		r.fileRight |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	attr, size := rulesetAttr{fs: r.dirRights}, unsafe.Sizeof(uint64(0))
	if l.NoTCP && l.ABI >= 4 {
		attr.net, size = unix.LANDLOCK_ACCESS_NET_BIND_TCP|unix.LANDLOCK_ACCESS_NET_CONNECT_TCP, unsafe.Sizeof(attr)
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("create ruleset: %w", errno)
	}
	r.fd = int(fd)
	defer unix.Close(r.fd)
	for _, root := range append([]string{"/"}, l.Open...) {
		if err := r.grant(root, l.Hidden); err != nil {
			return err
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(r.fd), 0, 0); errno != 0 {
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
	if err := r.add(p, unix.LANDLOCK_ACCESS_FS_READ_DIR); err != nil {
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
		if err := r.grant(filepath.Join(p, e.Name()), inside); err != nil {
			return err
		}
	}
	return nil
}

// add grants rights beneath p; files get the rights that apply to files.
func (r *ruleset) add(p string, rights uint64) error {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES) {
		return nil // gone meanwhile, or out of the step's reach anyway
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		rights &= r.fileRight
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(fd)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(r.fd), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("rule for %s: %w", p, errno)
	}
	return nil
}
