package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
)

// Support is what this machine offers step sandboxes, as probed by NewHost.
type Support struct {
	// Bwrap is the bubblewrap program found ("" when none was), and
	// BwrapVersion its version.
	Bwrap, BwrapVersion string
	// Isolated is nil when the isolated level works here, else why it does
	// not.
	Isolated error
	// DisableUserns reports whether bubblewrap can keep steps from making
	// user namespaces of their own (bubblewrap 0.8 and later).
	DisableUserns bool
	// Cgroup is what step limits can use cgroups for.
	Cgroup Cgroups
	// Landlock is the kernel's Landlock ABI version, 0 without Landlock.
	// Process-level steps use it to keep away from the server's files.
	Landlock int
	// UID is the server's user. Only root (0) can run steps as another user.
	UID int
}

// Auto is the level `auto` stands for here.
func (s Support) Auto() string {
	if s.Isolated == nil {
		return "isolated"
	}
	return "process"
}

// probeTimeout bounds the probe's sandbox; it takes milliseconds.
const probeTimeout = 30 * time.Second

// probe finds bubblewrap and checks that it can make the sandbox steps get,
// and which cgroups step limits can use.
func probe(bwrap string) Support {
	s := Support{UID: os.Getuid(), Cgroup: probeCgroups(), Landlock: helper.ABI()}
	if bwrap == "" {
		bwrap = "bwrap"
	}
	path, err := exec.LookPath(bwrap)
	if err != nil {
		s.Isolated = fmt.Errorf("bubblewrap is not installed (%s not found): install it, e.g. apt-get install bubblewrap", bwrap)
		return s
	}
	s.Bwrap = path
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, path, "--version").Output(); err == nil {
		s.BwrapVersion = bwrapVersion(out)
	}
	err = probeSandbox(ctx, path, true)
	if err == nil {
		s.DisableUserns = true
		return s
	}
	if probeSandbox(ctx, path, false) == nil {
		return s // an older bubblewrap, without --disable-userns
	}
	s.Isolated = err
	return s
}

// probeSandbox runs bwrap --version in a sandbox made as steps get theirs.
func probeSandbox(ctx context.Context, bwrap string, disableUserns bool) error {
	args := append(namespaceArgs(disableUserns, false), baseMounts(0)...)
	args = append(args, "--remount-ro", "/run", "--", bwrap, "--version")
	cmd := exec.CommandContext(ctx, bwrap, args...)
	cmd.Env = []string{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg = "it did not finish in " + probeTimeout.String()
		}
		return fmt.Errorf("bubblewrap cannot make a sandbox here (user namespaces may be disabled): %s", msg)
	}
	return nil
}
