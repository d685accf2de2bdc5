package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// cmdDoctor is `hookflow doctor` (SPEC §9): whether the configuration is
// valid, the store reachable, and which sandbox levels this machine offers,
// and why not. It exits 1 when something would keep `hookflow serve` from
// working as configured.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", "[--config F] [--workflows DIR] [--data DIR] [--store DSN]", stderr)
	flags := config.BindFlags(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "doctor", err)
	}
	d := &doctor{w: stdout}
	cfg, err := flags.Load()
	if err != nil {
		d.fail("config", "%s", err)
		// Without a configuration, the sandbox is still worth a look.
		d.sandbox(&config.Config{Sandbox: workflows.Sandbox{Level: workflows.LevelAuto}})
		return d.code()
	}
	if cfg.File != "" {
		d.ok("config", "%s", cfg.File)
	} else {
		d.ok("config", "no %s; defaults and HOOKFLOW_* variables", flags.File())
	}
	d.workflows(cfg)
	d.store(ctx, cfg)
	d.sandbox(cfg)
	return d.code()
}

// doctor prints checks as aligned lines and remembers whether one failed.
type doctor struct {
	w      io.Writer
	failed bool
}

func (d *doctor) line(name, status, format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n                 ")
	fmt.Fprintf(d.w, "%-10s %-5s %s\n", name, status, msg)
}

func (d *doctor) ok(name, format string, args ...any)   { d.line(name, "ok", format, args...) }
func (d *doctor) warn(name, format string, args ...any) { d.line(name, "warn", format, args...) }
func (d *doctor) fail(name, format string, args ...any) {
	d.failed = true
	d.line(name, "FAIL", format, args...)
}

func (d *doctor) code() int {
	if d.failed {
		return exitFail
	}
	return exitOK
}

// workflows loads a workflows folder, saying which folder it is, how many
// files and workflows it holds and whether they are valid; a git source is
// not fetched.
func (d *doctor) workflows(c *config.Config) {
	if c.Workflows.Git != nil {
		d.ok("workflows", "git %s (not fetched by doctor)", c.Workflows.Git.URL)
		return
	}
	folder := inspectFolder(c.Workflows.Folder)
	var notes []string
	if folder.isDefault() {
		notes = append(notes, "reading workflows from "+folder.display()+" (the default; pass a folder with --workflows or set workflows: in "+configName(c)+")")
	}
	if hint := folder.sourceHint(); hint != "" {
		notes = append(notes, hint)
	}
	set, err := c.WorkflowFiles(builtin.Registry()).Paths(c.Workflows.Folder)
	if err != nil {
		d.fail("workflows", "%s: %s, not valid:\n%s", folder.display(), plural(folder.files, "file"),
			strings.Join(append(notes, firstErrors(err.Error(), doctorErrors, folder.display())), "\n"))
		return
	}
	msg := fmt.Sprintf("%d in %s: %s, %s, all valid (revision %s)", len(set.Workflows()), c.Workflows.Folder,
		plural(folder.files, "file"), plural(len(set.Workflows()), "workflow"), set.Revision)
	if len(notes) > 0 {
		msg += "\n" + strings.Join(notes, "\n")
	}
	if folder.goFiles {
		d.warn("workflows", "%s", msg)
		return
	}
	d.ok("workflows", "%s", msg)
}

// doctorErrors is how many of a folder's errors doctor shows; validate
// shows them all.
const doctorErrors = 5

// firstErrors is the first n lines of the error list msg, and a line that
// says how many more there are and how to see them.
func firstErrors(msg string, n int, folder string) string {
	lines := strings.Split(msg, "\n")
	if len(lines) <= n {
		return msg
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n… and %d more: hookflow validate %s", len(lines)-n, folder)
}

// configName is the configuration file a setting would go in.
func configName(c *config.Config) string {
	if c.File != "" {
		return c.File
	}
	return "hookflow.yaml"
}

// plural is "1 file" or "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// store opens the store and pings it. An SQLite file that does not exist yet
// is left alone: serve makes it.
func (d *doctor) store(ctx context.Context, c *config.Config) {
	if path, ok := strings.CutPrefix(c.Store, "sqlite://"); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			d.ok("store", "%s does not exist yet; hookflow serve makes it", c.Store)
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := openStore(ctx, c)
	if err != nil {
		d.fail("store", "%s", err)
		return
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		d.fail("store", "%s: %s", c.Store, err)
		return
	}
	d.ok("store", "%s", c.Store)
}

// sandbox says which levels this machine offers, what the configured default
// level comes to, and how limits are applied.
func (d *doctor) sandbox(c *config.Config) {
	sup := newSandboxHost(c).Support()
	level := c.Sandbox.Level
	switch {
	case level == workflows.LevelIsolated && sup.Isolated != nil:
		d.fail("sandbox", "level isolated is configured but not available: %s", sup.Isolated)
	case level == workflows.LevelAuto:
		d.ok("sandbox", "level auto: %s here", sup.Auto())
	default:
		d.ok("sandbox", "level %s", level)
	}
	d.ok("process", "available: own session and process group, explicit environment, stdin /dev/null, no_new_privs, rlimits")
	if sup.Isolated != nil {
		d.warn("isolated", "not available: %s", sup.Isolated)
	} else {
		nested := "nested user namespaces blocked"
		if !sup.DisableUserns {
			nested = "nested user namespaces allowed (bubblewrap before 0.8)"
		}
		d.ok("isolated", "available: bubblewrap %s (%s); user, PID, IPC, UTS, cgroup and network namespaces; %s", sup.BwrapVersion, sup.Bwrap, nested)
	}
	if sup.Landlock >= 2 {
		d.ok("landlock", "v%d: steps at the process level cannot reach the server's files, nor trace it", sup.Landlock)
	} else {
		d.warn("landlock", "v%d, below v2: steps at the process level can read the server's files as far as permissions let them", sup.Landlock)
	}
	if cg := sup.Cgroup; cg.Err == nil {
		d.ok("cgroups", "%s: memory and pids limits per step", cg)
	} else {
		fallback := "memory is an address-space rlimit, pids a per-user process rlimit"
		if sup.UID == 0 {
			fallback += " (which does not bind root: pids cannot be limited)"
		}
		d.warn("cgroups", "%s; where missing, %s\n%s", cg, fallback, cg.Err)
	}
	if sup.UID == 0 {
		if c.Sandbox.User == "" {
			d.warn("user", "the server runs as root, and so do steps without sandbox.user: in a sandbox without capabilities, but able to read the host's root-only files; set sandbox.user")
		} else {
			d.ok("user", "the server runs as root; steps run as %s unless they say otherwise", c.Sandbox.User)
		}
	} else {
		d.ok("user", "the server runs as uid %d; steps run as it (sandbox.user may only name it)", sup.UID)
	}
}

// newSandboxHost probes this machine for the server's sandbox, protecting
// the server's own files from steps.
func newSandboxHost(c *config.Config) *sandbox.Host {
	return sandbox.NewHost(sandbox.Options{Protected: c.ServerFiles()})
}

// newServerSandbox is the sandbox of a serving process, which it first makes
// undumpable so that process-level steps cannot read its environment (and
// the secrets in it) through /proc.
func newServerSandbox(c *config.Config, log *slog.Logger) *sandbox.Host {
	if err := sandbox.HardenServer(); err != nil {
		log.Warn("steps at the process level may read the server's environment", "err", err)
	}
	return newSandboxHost(c)
}
