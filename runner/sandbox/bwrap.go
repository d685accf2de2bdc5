package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// replaced are the folders an isolated step gets a fresh one of, instead of
// the host's. Paths below them need no masking.
var replaced = []string{"/dev", "/proc", "/tmp", "/run"}

// bwrapArgs are bubblewrap's options for the step, working in dir. Mounts are
// made in order: the host read-only, the fresh folders, the masks over the
// server's files and the hidden paths, the workspace and the writable paths,
// the masks inside those, and last the masks are made read-only.
func (c *Confinement) bwrapArgs(dir string) []string {
	a := append(namespaceArgs(c.host.support.DisableUserns, c.network), baseMounts(int64(c.policy.Memory))...)
	// A mask inside a bound path goes on after the bind, or the bind would
	// cover it.
	binds := append([]string{c.workspace}, c.writable...)
	var before, after, dirMasks []string
	for _, p := range c.masks() {
		if slices.ContainsFunc(binds, func(b string) bool { return within(p, b) }) {
			after = append(after, p)
		} else {
			before = append(before, p)
		}
	}
	mask := func(paths []string) {
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				a = append(a, "--tmpfs", p)
				dirMasks = append(dirMasks, p)
			} else if err == nil {
				// /dev/null on a nodev mount: a file that cannot be opened.
				a = append(a, "--ro-bind", "/dev/null", p)
			}
		}
	}
	mask(before)
	for _, b := range binds {
		a = append(a, "--bind", b, b)
	}
	mask(after)
	for _, m := range append(dirMasks, "/run") {
		a = append(a, "--remount-ro", m)
	}
	return append(a, "--chdir", dir)
}

// namespaceArgs are the namespaces and privileges of every sandbox.
func namespaceArgs(disableUserns, network bool) []string {
	a := []string{
		"--die-with-parent",
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--cap-drop", "ALL",
	}
	if disableUserns {
		// A nested user namespace would give the step capabilities again,
		// and with them a large part of the kernel to attack.
		a = append(a, "--disable-userns")
	}
	if !network {
		a = append(a, "--unshare-net")
	}
	return a
}

// baseMounts are the file systems of every sandbox: the host read-only, and
// /dev, /proc, /tmp and /run of its own. A tmpSize above 0 bounds /tmp.
func baseMounts(tmpSize int64) []string {
	a := []string{"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"}
	if tmpSize > 0 {
		// A tmpfs is memory that an address-space limit does not count.
		a = append(a, "--size", strconv.FormatInt(tmpSize, 10))
	}
	// /run holds the host's sockets (Docker's, D-Bus's), which a read-only
	// mount does not keep anyone from connecting to.
	a = append(a, "--tmpfs", "/tmp", "--tmpfs", "/run")
	if resolv, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil && within(resolv, "/run") {
		// systemd-resolved keeps the resolver's address there.
		a = append(a, "--ro-bind", resolv, resolv)
	}
	return a
}

// masks are the paths to mask: the server's files and the hidden paths,
// without those inside another one or inside a folder the sandbox replaces.
func (c *Confinement) masks() []string {
	all := slices.Concat(c.host.protected, c.hidden)
	slices.Sort(all)
	var out []string
	for _, p := range all {
		covered := false
		for _, r := range slices.Concat(replaced, out) {
			if within(p, r) {
				covered = true
				break
			}
		}
		if !covered && p != "/" {
			out = append(out, p)
		}
	}
	return out
}

// bwrapVersion reads "bubblewrap 0.8.0" from bwrap --version.
func bwrapVersion(out []byte) string {
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "bubblewrap ")
}
