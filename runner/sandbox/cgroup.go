package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
)

// The controllers step limits use.
const (
	ctrlMemory = "memory"
	ctrlPids   = "pids"
)

// Cgroups is what cgroups offer step limits on this machine. Step cgroups are
// made below the server's own cgroup, so that whatever bounds the server
// bounds its steps too.
type Cgroups struct {
	// Version is 2 on a unified hierarchy and 1 when the controllers are
	// mounted as cgroup v1 hierarchies (also on hybrid machines); 0 when no
	// controller can be used.
	Version int
	// Controllers are the usable controllers, of memory and pids.
	Controllers []string
	// Err says why a controller cannot be used; nil when both can.
	Err error
	// dirs holds, per usable controller, the folder step cgroups are made in.
	dirs map[string]string
}

// Has reports whether ctrl can limit steps.
func (c Cgroups) Has(ctrl string) bool { return slices.Contains(c.Controllers, ctrl) }

// String describes the cgroups for people, e.g. "cgroup v1 memory,pids".
func (c Cgroups) String() string {
	if c.Version == 0 {
		return "no cgroup"
	}
	return fmt.Sprintf("cgroup v%d %s", c.Version, strings.Join(c.Controllers, ","))
}

// cgroupMount is a cgroup file system mounted on this machine.
type cgroupMount struct {
	dir, root string
	v2        bool
	ctrls     []string // the v1 controllers it holds
}

// probeCgroups finds where the server's own cgroups are and checks that a
// child cgroup can be made in them for each controller. It removes the step
// cgroups that servers which died left there.
func probeCgroups() Cgroups {
	mounts, err := cgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return Cgroups{Err: fmt.Errorf("cgroups: %w", err)}
	}
	own, err := ownCgroups("/proc/self/cgroup")
	if err != nil {
		return Cgroups{Err: fmt.Errorf("cgroups: %w", err)}
	}
	c := Cgroups{dirs: map[string]string{}}
	var why []string
	for _, ctrl := range []string{ctrlMemory, ctrlPids} {
		dir, version, err := controllerDir(mounts, own, ctrl)
		if err == nil {
			err = probeDir(dir)
		}
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %s", ctrl, err))
			continue
		}
		if c.Version != 0 && c.Version != version {
			why = append(why, fmt.Sprintf("%s: in cgroup v%d while %s is in v%d", ctrl, version, c.Controllers[0], c.Version))
			continue
		}
		c.Version = version
		c.Controllers = append(c.Controllers, ctrl)
		c.dirs[ctrl] = dir
	}
	if len(why) > 0 {
		c.Err = errors.New(strings.Join(why, "; "))
	}
	c.sweep()
	return c
}

// controllerDir returns the folder of the server's own cgroup for ctrl: in
// the v1 hierarchy holding ctrl when there is one, else in the unified one,
// where ctrl must be enabled for children.
func controllerDir(mounts []cgroupMount, own map[string]string, ctrl string) (string, int, error) {
	for _, m := range mounts {
		if !m.v2 && slices.Contains(m.ctrls, ctrl) {
			dir, err := m.path(own[ctrl])
			return dir, 1, err
		}
	}
	for _, m := range mounts {
		if !m.v2 {
			continue
		}
		dir, err := m.path(own[""])
		if err != nil {
			return "", 2, err
		}
		enabled, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil {
			return "", 2, err
		}
		if !slices.Contains(strings.Fields(string(enabled)), ctrl) {
			return "", 2, fmt.Errorf("not enabled for the children of %s (cgroup.subtree_control); run hookflow in a cgroup of its own that delegates memory and pids", dir)
		}
		return dir, 2, nil
	}
	return "", 0, errors.New("no cgroup hierarchy has this controller")
}

// path is the folder of cgroup p (as /proc/self/cgroup names it) in m.
func (m cgroupMount) path(p string) (string, error) {
	rel, err := filepath.Rel(m.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("the server's cgroup %s is outside the mounted part %s of the hierarchy", p, m.root)
	}
	return filepath.Join(m.dir, rel), nil
}

// probeDir checks that a child cgroup can be made in dir, by making one.
func probeDir(dir string) error {
	probe := filepath.Join(dir, fmt.Sprintf("hookflow-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("%s is not writable by uid %d", dir, os.Getuid())
		}
		return err
	}
	return os.Remove(probe)
}

// cgroupMounts reads the cgroup file systems from a mountinfo file.
func cgroupMounts(mountinfo string) ([]cgroupMount, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		m := cgroupMount{root: unescapeMount(fields[3]), dir: unescapeMount(fields[4])}
		switch tail[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if opt == ctrlMemory || opt == ctrlPids {
					m.ctrls = append(m.ctrls, opt)
				}
			}
		default:
			continue
		}
		mounts = append(mounts, m)
	}
	return mounts, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroups reads the server's cgroups from a /proc/PID/cgroup file: per v1
// controller, and "" for the unified hierarchy.
func ownCgroups(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// 4:memory:/process_api/x, or 0::/user.slice for the unified hierarchy
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			own[""] = parts[2]
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			own[ctrl] = parts[2]
		}
	}
	return own, nil
}

// stepCgroupPrefix starts the name of every step cgroup.
const stepCgroupPrefix = "hookflow-step-"

// staleAfter is how old an empty step cgroup must be to be taken for one
// that a server which died left behind; a new one is empty only for the
// moment between its making and its step joining it.
const staleAfter = time.Minute

// sweep removes the step cgroups that servers which died left behind: empty
// ones older than staleAfter. A cgroup with processes cannot be removed, so
// the step cgroups of live servers are safe.
func (c Cgroups) sweep() {
	for _, dir := range c.dirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), stepCgroupPrefix) {
				continue
			}
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleAfter {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// stepCgroup holds one step's processes: a cgroup per v1 controller used, or
// one v2 cgroup.
type stepCgroup struct {
	dirs []string
}

// newStepCgroup makes the step's cgroups, called name, with these limits (0
// means none). The pids controller is used even without a limit, when it can
// be, because its membership is what finds a step's processes that left its
// process group.
func (c Cgroups) newStepCgroup(name string, memory int64, pids int) (*stepCgroup, error) {
	type limit struct {
		file, value string
		optional    bool // missing where swap is not accounted for
	}
	limits := map[string][]limit{}
	if memory > 0 && c.Has(ctrlMemory) {
		m := strconv.FormatInt(memory, 10)
		if c.Version == 2 {
			limits[ctrlMemory] = []limit{{"memory.max", m, false}, {"memory.swap.max", "0", true}}
		} else {
			// memsw (memory+swap) must be set after the memory limit.
			limits[ctrlMemory] = []limit{{"memory.limit_in_bytes", m, false}, {"memory.memsw.limit_in_bytes", m, true}}
		}
	}
	if c.Has(ctrlPids) {
		p := "max"
		if pids > 0 {
			p = strconv.Itoa(pids)
		}
		limits[ctrlPids] = []limit{{"pids.max", p, false}}
	}
	g := &stepCgroup{}
	for _, ctrl := range []string{ctrlMemory, ctrlPids} {
		files, ok := limits[ctrl]
		if !ok {
			continue
		}
		dir := filepath.Join(c.dirs[ctrl], name)
		if !slices.Contains(g.dirs, dir) { // v2: one cgroup for both
			if err := os.Mkdir(dir, 0o755); err != nil {
				g.remove()
				return nil, fmt.Errorf("cgroup: %w", err)
			}
			g.dirs = append(g.dirs, dir)
		}
		for _, l := range files {
			err := os.WriteFile(filepath.Join(dir, l.file), []byte(l.value), 0)
			if err != nil && !(l.optional && errors.Is(err, fs.ErrNotExist)) {
				g.remove()
				return nil, fmt.Errorf("cgroup %s: %w", l.file, err)
			}
		}
	}
	if len(g.dirs) == 0 {
		return nil, nil
	}
	return g, nil
}

// procsFiles are the files a process writes its PID to, to join the cgroups.
func (g *stepCgroup) procsFiles() []string {
	files := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		files[i] = filepath.Join(d, "cgroup.procs")
	}
	return files
}

func (g *stepCgroup) alive() bool { return len(helper.CgroupPids(g.dirs[0])) > 0 }

// kill sends SIGKILL to every process in the cgroup.
func (g *stepCgroup) kill() { helper.KillCgroup(g.dirs[0]) }

// remove kills what is left and removes the cgroups. Killed processes leave
// their cgroup only once they have exited, so removing is tried for a while.
func (g *stepCgroup) remove() error {
	deadline := time.Now().Add(5 * time.Second)
	var errs []error
	for i := len(g.dirs) - 1; i >= 0; i-- {
		for {
			err := os.Remove(g.dirs[i])
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", g.dirs[i], err))
				break
			}
			g.kill()
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}
