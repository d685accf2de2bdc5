// Command benchtab measures hookflow against the goals of its performance
// table, with real processes: the hookflow binary serving on 127.0.0.1, wrk
// as the load generator, bubblewrap, bash. It prints one table of figures,
// each with its goal and its ratio to the reference measured in the same
// run, and can rewrite the README's performance table from it.
//
//	go run ./internal/benchtab                  # measure the working tree
//	go run ./internal/benchtab -base main~3     # and a revision beside it
//	go run ./internal/benchtab ceiling -listen ADDR -secret S   # the reference handler
//
// `make bench` runs it after the Go benchmarks. Every load is bounded in
// time and count, and every process it starts is stopped when it ends.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ceiling" {
		if err := ceiling(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchtab ceiling:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	bin, base, readme string
	duration          time.Duration
	rounds, samples   int
	queued            int
	only              string
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "", "the hookflow binary to measure (default: build ./cmd/hookflow)")
	flag.StringVar(&o.base, "base", "", "also measure the hookflow of this git revision, as \"before\"")
	flag.StringVar(&o.readme, "readme", "", "rewrite the performance table of this README from the figures")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each wrk round")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating wrk rounds per figure")
	flag.IntVar(&o.samples, "samples", 100, "runs timed one at a time for start-up latencies")
	flag.IntVar(&o.queued, "queued", 1000, "runs queued for the drain figures")
	flag.StringVar(&o.only, "only", "", "measure only these groups, e.g. P1,P5")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Not under /tmp, which an isolated step sees as a tmpfs of its own: the
	// steps write their stamps into the bench's folder.
	work, err := os.MkdirTemp("/var/tmp", "hookflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	after := o.bin
	if after == "" {
		after = filepath.Join(work, "hookflow")
		if err := build(ctx, ".", after); err != nil {
			return err
		}
	}
	bins := []binary{{"after", after}}
	if o.base != "" {
		before, err := buildRevision(ctx, o.base)
		if err != nil {
			return err
		}
		bins = []binary{{"before", before}, {"after", after}}
	}
	for _, tool := range []string{"wrk", "bwrap", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (make bench installs it: scripts/setup-bench.sh)", tool)
		}
	}

	b := &bench{ctx: ctx, o: o, work: work, self: self, bins: bins, table: &table{}}
	b.table.about = fmt.Sprintf("Measured on %d cores, %s, %s", runtime.NumCPU(), cpuModel(), runtime.Version())
	if o.base != "" {
		b.table.about += fmt.Sprintf("; before is revision %s", o.base)
	}
	b.table.about += "."
	fmt.Println(b.table.about)
	groups := []struct {
		id  string
		run func() error
	}{{"P1", b.webhooks}, {"P3", b.startup}, {"P4", b.drain}, {"P2", b.manyWorkflows}, {"P5", b.memory}}
	for _, group := range groups {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), group.id) {
			continue
		}
		if err := group.run(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Println()
	b.table.print(os.Stdout, bins)
	if o.readme != "" {
		return b.table.rewriteReadme(o.readme, bins)
	}
	return nil
}

// binary is one hookflow measured, named by its column.
type binary struct{ name, path string }

// bench is one run of every figure.
type bench struct {
	ctx   context.Context
	o     options
	work  string
	self  string
	bins  []binary
	table *table
	// p1 is each binary's webhook rate with one workflow, which P2 compares to.
	p1 map[string]float64
}

// dir returns a fresh folder for one server.
func (b *bench) dir(name string) string {
	d, err := os.MkdirTemp(b.work, name+"-")
	if err != nil {
		panic(err)
	}
	return d
}

// build builds ./cmd/hookflow of the module in dir into out.
func build(ctx context.Context, dir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/hookflow")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build hookflow in %s: %w", dir, err)
	}
	return nil
}

// buildRevision builds hookflow at git revision rev, once per commit, under
// the user's cache folder.
func buildRevision(ctx context.Context, rev string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("revision %s: %w", rev, err)
	}
	commit := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	root := filepath.Join(cache, "hookflow-bench", commit)
	bin := filepath.Join(root, "hookflow")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	src := filepath.Join(root, "src")
	os.RemoveAll(src)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	archive := exec.CommandContext(ctx, "sh", "-c", `git archive "$1" | tar -x -C "$2"`, "sh", commit, src)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive.Stderr = os.Stderr
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("unpack %s: %w", rev, err)
	}
	if err := build(ctx, src, bin); err != nil {
		return "", err
	}
	os.RemoveAll(src)
	return bin, nil
}

// cpuModel is the first model name in /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
