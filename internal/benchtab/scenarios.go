package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// secret signs every GitHub delivery the bench sends.
const secret = "bench-secret-value"

// webhooks measures P1: signed pushes verified, stored and queued a second,
// with the runs they start executing, against a bare echo handler that only
// verifies the signature, in alternating rounds.
func (b *bench) webhooks() error {
	fmt.Println("P1: webhooks/s against the bare HMAC handler …")
	wf := map[string]string{"deploy.yaml": "on: {webhook: {path: gh, provider: github, secret: " + secret + ", branches: [main]}}\n" +
		"sandbox: {level: process}\nsteps: [{run: 'true'}]\n"}
	body := pushBody("main")
	good := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(secret, body)}
	bad := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("wrong", body)}

	ceilingURL, stopCeiling, err := b.startCeiling(secret)
	if err != nil {
		return err
	}
	defer stopCeiling()
	servers := map[string]*server{}
	for _, bin := range b.bins {
		s, err := b.serve(bin.path, "p1-"+bin.name, wf, "limits: {max_queued_runs: 100000000}\n")
		if err != nil {
			return err
		}
		defer s.stop()
		servers[bin.name] = s
	}
	accepted := map[string][]float64{}
	p99 := map[string][]float64{}
	var ceilingRates []float64
	why := map[string]string{}
	for range b.o.rounds {
		for _, bin := range b.bins {
			l, err := b.wrk(servers[bin.name].url+"/hooks/gh", body, good)
			if err != nil {
				return err
			}
			if l.non2xx > 0 {
				why[bin.name] = fmt.Sprintf("%d answers were not 2xx", l.non2xx)
			}
			accepted[bin.name] = append(accepted[bin.name], l.rate)
			p99[bin.name] = append(p99[bin.name], l.p99)
		}
		l, err := b.wrk(ceilingURL+"/hooks/gh", body, good)
		if err != nil {
			return err
		}
		ceilingRates = append(ceilingRates, l.rate)
	}
	ref := median(ceilingRates)
	rate := b.table.add(&figure{id: "P1", what: "webhooks verified + stored + queued (runs executing), 32 conns", unit: "req/s",
		goal: 0.6, goalText: "≥ 0.6× bare handler", ref: map[string]float64{}, refWhat: "of"})
	lat := b.table.add(&figure{id: "P1", what: "  their p99 latency", unit: "ms"})
	for _, bin := range b.bins {
		if w := why[bin.name]; w != "" {
			rate.why[bin.name] = w
			continue
		}
		rate.values[bin.name], rate.ref[bin.name] = median(accepted[bin.name]), ref
		lat.values[bin.name] = median(p99[bin.name])
	}
	rej := b.table.add(&figure{id: "", what: "webhooks rejected (bad signature), 32 conns", unit: "req/s"})
	for _, bin := range b.bins {
		l, err := b.wrk(servers[bin.name].url+"/hooks/gh", body, bad)
		if err != nil {
			return err
		}
		rej.values[bin.name] = l.rate
	}
	c := b.table.add(&figure{id: "", what: "bare echo handler verifying the HMAC (reference)", unit: "req/s"})
	for _, bin := range b.bins {
		c.values[bin.name] = ref
	}
	b.p1 = map[string]float64{}
	for _, bin := range b.bins {
		b.p1[bin.name] = median(accepted[bin.name])
	}
	return nil
}

// stampWorkflow writes the clock to dir/<x-id header> as its step's first act.
func stampWorkflow(path, level, dir string) string {
	return fmt.Sprintf(`on:
  webhook: {path: %s}
sandbox: {level: %s, writable: [%s]}
defaults: {shell: sh}
steps:
  - run: 'date +%%s%%N > "$OUT"'
    env:
      OUT: %s/${{ event.headers["x-id"] }}
`, path, level, dir, dir)
}

// startup measures P3: from the 202 to the step's first act, one run at a
// time on an idle server, at both levels, against bubblewrap's own start.
func (b *bench) startup() error {
	fmt.Println("P3: acknowledgement → step started …")
	bare := bwrapStart(50)
	bw := b.table.add(&figure{id: "", what: "bubblewrap's bare start-up (reference)", unit: "ms"})
	for _, bin := range b.bins {
		bw.values[bin.name] = bare
	}
	p50 := b.table.add(&figure{id: "P3", what: "202 → step process started, process level, p50", unit: "ms", goal: 5, atMost: true, goalText: "≤ 5 ms"})
	p99 := b.table.add(&figure{id: "P3", what: "  p99", unit: "ms", goal: 10, atMost: true, goalText: "≤ 10 ms"})
	iso := b.table.add(&figure{id: "P3", what: "202 → step process started, isolated, p50", unit: "ms", goal: bare + 5, atMost: true,
		goalText: fmt.Sprintf("≤ bwrap + 5 = %.1f ms", bare+5)})
	cost := b.table.add(&figure{id: "P4", what: "isolated step duration (date > file), median", unit: "ms", goal: 2, atMost: true,
		goalText: "≤ 2× bwrap", ref: map[string]float64{}, refWhat: "bwrap"})
	for _, bin := range b.bins {
		out := b.dir("stamps")
		s, err := b.serve(bin.path, "p3-"+bin.name, map[string]string{
			"process.yaml":  stampWorkflow("process", "process", out),
			"isolated.yaml": stampWorkflow("isolated", "isolated", out),
		}, "")
		if err != nil {
			return err
		}
		lat, _, err := b.stamps(s, "process", out, b.o.samples)
		if err != nil {
			s.stop()
			return err
		}
		p50.values[bin.name], p99.values[bin.name] = percentile(lat, 50), percentile(lat, 99)
		lat, runs, err := b.stamps(s, "isolated", out, b.o.samples/2)
		if err != nil {
			s.stop()
			return err
		}
		iso.values[bin.name] = percentile(lat, 50)
		if d, err := stepDurations(s, runs); err == nil {
			cost.values[bin.name], cost.ref[bin.name] = median(d), bare
		} else {
			cost.why[bin.name] = err.Error()
		}
		s.stop()
	}
	return nil
}

// stamps sends n deliveries to path one at a time and returns, for each, the
// milliseconds from its answer to its step's stamp, and the runs' ids.
func (b *bench) stamps(s *server, path, dir string, n int) ([]float64, []string, error) {
	var lat []float64
	var runs []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", path, i)
		code, answer, err := s.post("/hooks/"+path, []byte(`{}`), map[string]string{"X-Id": id})
		acked := time.Now()
		if err != nil {
			return nil, nil, err
		}
		if code != 202 {
			return nil, nil, fmt.Errorf("POST /hooks/%s: %d %s", path, code, answer)
		}
		var receipt struct {
			Runs []struct{ ID string } `json:"runs"`
		}
		if json.Unmarshal(answer, &receipt) == nil && len(receipt.Runs) > 0 {
			runs = append(runs, receipt.Runs[0].ID)
		}
		stamp, err := waitStamp(filepath.Join(dir, id), 30*time.Second)
		if err != nil {
			return nil, nil, err
		}
		lat = append(lat, float64(stamp.Sub(acked).Microseconds())/1000)
		time.Sleep(20 * time.Millisecond)
	}
	return lat, runs, nil
}

// waitStamp reads the clock a step wrote to file.
func waitStamp(file string, limit time.Duration) (time.Time, error) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
		b, err := os.ReadFile(file)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			continue
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", file, err)
		}
		return time.Unix(0, ns), nil
	}
	return time.Time{}, fmt.Errorf("no stamp in %s after %s", file, limit)
}

// stepDurations are the first steps' durations of runs, in ms, once each has
// finished.
func stepDurations(s *server, runs []string) ([]float64, error) {
	var d []float64
	for _, id := range runs {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var run struct {
				Status string `json:"status"`
				Steps  []struct {
					StartedAt  time.Time `json:"started_at"`
					FinishedAt time.Time `json:"finished_at"`
				} `json:"steps"`
			}
			if err := s.getJSON("/api/v1/runs/"+id, &run); err != nil {
				return nil, err
			}
			if run.Status != "queued" && run.Status != "running" {
				if len(run.Steps) == 0 || run.Status != "succeeded" {
					return nil, fmt.Errorf("run %s %s", id, run.Status)
				}
				d = append(d, float64(run.Steps[0].FinishedAt.Sub(run.Steps[0].StartedAt).Microseconds())/1000)
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("run %s still %s", id, run.Status)
			}
		}
	}
	return d, nil
}

// bwrapStart is the median wall time, in ms, of n sandboxes that run true.
func bwrapStart(n int) float64 {
	var d []float64
	for range n {
		start := time.Now()
		cmd := exec.Command("bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
			"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true")
		if err := cmd.Run(); err != nil {
			return 0
		}
		d = append(d, float64(time.Since(start).Microseconds())/1000)
	}
	return median(d)
}

// drain measures P4: queued runs of a one-line step completed a second, at
// max_parallel_runs cores×4, against bash started bare as often.
func (b *bench) drain() error {
	fmt.Println("P4: draining queued runs …")
	parallel := runtime.NumCPU() * 4
	bare, err := bareBash(b.dir("bash"), parallel, b.o.queued)
	if err != nil {
		return err
	}
	wf := map[string]string{"drain.yaml": "on: {webhook: {path: drain}}\nsandbox: {level: process}\nsteps: [{run: 'true'}]\n"}
	cfg := fmt.Sprintf("limits: {max_parallel_runs: %d, max_queued_runs: 100000000}\n", parallel)
	f := b.table.add(&figure{id: "P4", what: fmt.Sprintf("%d queued one-line runs, SQLite, %d parallel", b.o.queued, parallel), unit: "runs/s",
		goal: 0.5, goalText: "≥ 0.5× bare bash", ref: map[string]float64{}, refWhat: "bare bash"})
	ref := b.table.add(&figure{id: "", what: fmt.Sprintf("bash -eo pipefail script, %d at a time (reference)", parallel), unit: "runs/s"})
	for _, bin := range b.bins {
		ref.values[bin.name] = bare
		s, err := b.serve(bin.path, "p4-"+bin.name, wf, cfg)
		if err != nil {
			return err
		}
		rate, err := b.drainRate([]*server{s}, b.o.queued)
		s.stop()
		if err != nil {
			f.why[bin.name] = err.Error()
			continue
		}
		f.values[bin.name], f.ref[bin.name] = rate, bare
	}
	dsn := os.Getenv("HOOKFLOW_TEST_POSTGRES")
	for _, nodes := range []int{1, 3} {
		pg := b.table.add(&figure{id: "P4", what: fmt.Sprintf("%d queued one-line runs, PostgreSQL, %d node(s) × %d parallel", b.o.queued, nodes, parallel), unit: "runs/s"})
		for _, bin := range b.bins {
			if dsn == "" {
				pg.why[bin.name] = "HOOKFLOW_TEST_POSTGRES is not set"
				continue
			}
			db, drop, err := freshDatabase(b.ctx, dsn)
			if err != nil {
				pg.why[bin.name] = err.Error()
				continue
			}
			var servers []*server
			for i := range nodes {
				s, err := b.serve(bin.path, fmt.Sprintf("p4pg-%s-%d", bin.name, i), wf, cfg+fmt.Sprintf("store: %q\nnode: n%d\n", db, i))
				if err != nil {
					return err
				}
				servers = append(servers, s)
			}
			rate, err := b.drainRate(servers, b.o.queued)
			for _, s := range servers {
				s.stop()
			}
			drop()
			if err != nil {
				pg.why[bin.name] = err.Error()
				continue
			}
			pg.values[bin.name] = rate
		}
	}
	return nil
}

// drainRate queues n runs across the servers with 16 senders, and returns
// the runs finished a second, from the first delivery to the last run's end.
func (b *bench) drainRate(servers []*server, n int) (float64, error) {
	start := time.Now()
	if err := fill(servers, "/hooks/drain", n); err != nil {
		return 0, err
	}
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		done := 0
		for _, s := range servers {
			d, err := s.finished()
			if err != nil {
				return 0, err
			}
			done += d
		}
		if done >= n {
			return float64(n) / time.Since(start).Seconds(), nil
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			return 0, fmt.Errorf("only %d of %d runs finished in 10 minutes", done, n)
		}
	}
}

// bareBash runs `bash -eo pipefail` on a one-line script n times, parallel at
// a time, and returns how many it ran a second.
func bareBash(dir string, parallel, n int) (float64, error) {
	script := filepath.Join(dir, "step.sh")
	if err := os.WriteFile(script, []byte("true\n"), 0o644); err != nil {
		return 0, err
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := exec.Command("bash", "-eo", "pipefail", script).Run(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// manyWorkflows measures P2: a path served by 10,000 workflows, of which one
// matches.
func (b *bench) manyWorkflows() error {
	fmt.Println("P2: 10,000 workflows on one path …")
	const n = 10000
	files := map[string]string{}
	for i := range n {
		branch := fmt.Sprintf("release-%d", i)
		if i == n/2 {
			branch = "main"
		}
		files[fmt.Sprintf("wf%05d.yaml", i)] = fmt.Sprintf("on: {webhook: {path: many, provider: github, secret: %s, branches: [%s]}}\n"+
			"sandbox: {level: process}\nsteps: [{run: 'true'}]\n", secret, branch)
	}
	body := pushBody("main")
	good := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(secret, body)}
	match := b.table.add(&figure{id: "P2", what: "match one push against 10,000 workflows, p99 (Go benchmark)", unit: "µs", goal: 300, atMost: true, goalText: "≤ 300 µs"})
	if v, err := matchP99(b); err == nil {
		match.values["after"] = v
	} else {
		match.why["after"] = err.Error()
	}
	if len(b.bins) > 1 {
		match.why["before"] = "measured for the working tree only"
	}
	lat := b.table.add(&figure{id: "P2", what: "one delivery at a time to that path, server time p50", unit: "ms", goal: 2, atMost: true, goalText: "≤ 2 ms"})
	size := b.table.add(&figure{id: "P2", what: "  its answer", unit: "bytes", goal: 4096, atMost: true, goalText: "< 4 KB"})
	rate := b.table.add(&figure{id: "P2", what: "  32 conns, vs one workflow (P1)", unit: "req/s", goal: 0.5, goalText: "≥ 0.5× P1",
		ref: map[string]float64{}, refWhat: "P1"})
	rss := b.table.add(&figure{id: "", what: "  server RSS with 10,000 workflows loaded", unit: "MiB"})
	for _, bin := range b.bins {
		s, err := b.serve(bin.path, "p2-"+bin.name, files, "limits: {max_queued_runs: 100000000}\n")
		if err != nil {
			return err
		}
		var d []float64
		var answer []byte
		for i := range 100 {
			h := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": good["X-Hub-Signature-256"], "X-GitHub-Delivery": fmt.Sprintf("seq-%d", i)}
			start := time.Now()
			code, a, err := s.post("/hooks/many", body, h)
			d = append(d, float64(time.Since(start).Microseconds())/1000)
			if err != nil || code != 202 {
				s.stop()
				return fmt.Errorf("POST /hooks/many: %d %v %.200s", code, err, a)
			}
			answer = a
		}
		lat.values[bin.name], size.values[bin.name] = percentile(d, 50), float64(len(answer))
		rss.values[bin.name] = s.rss()
		if l, err := b.wrk(s.url+"/hooks/many", body, good); err != nil {
			rate.why[bin.name] = err.Error()
		} else if l.non2xx > 0 {
			rate.why[bin.name] = fmt.Sprintf("%d answers were not 2xx", l.non2xx)
		} else {
			rate.values[bin.name], rate.ref[bin.name] = l.rate, b.p1[bin.name]
		}
		s.stop()
	}
	return nil
}

var benchP99 = regexp.MustCompile(`([\d.]+) p99-?(µs|us|ms)\b`)

// matchP99 runs the matching benchmark of the working tree and reads its
// 99th percentile, in µs.
func matchP99(b *bench) (float64, error) {
	out, err := exec.CommandContext(b.ctx, "go", "test", "-run", "^$", "-bench", "BenchmarkMatch10000$", "-benchtime", "2s", "./workflows").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go test: %w", err)
	}
	return parseP99(string(out))
}

// parseP99 reads the p99 metric a benchmark reported, in µs.
func parseP99(out string) (float64, error) {
	m := benchP99.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no p99 metric reported")
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "ms" {
		v *= 1000
	}
	return v, nil
}

// memory measures P5: idle RSS, RSS while a step prints 1 GB and the log
// kept of it, and what 10,000 queued runs add.
func (b *bench) memory() error {
	fmt.Println("P5: memory …")
	quick, err := exampleWorkflows("examples/quickstart/workflows")
	if err != nil {
		return err
	}
	idle := b.table.add(&figure{id: "P5", what: "idle RSS (quickstart workflows, 5 s after start)", unit: "MiB", goal: 40, atMost: true, goalText: "≤ 40 MB"})
	flat := b.table.add(&figure{id: "P5", what: "RSS growth while a step prints 1 GB", unit: "MiB", goal: 32, atMost: true, goalText: "flat: ≤ +32 MB"})
	served := b.table.add(&figure{id: "P5", what: "  log served for it, vs max_log_bytes 8 MiB", unit: "MiB", goal: 1.01, atMost: true,
		goalText: "≤ 1.0× the cap", ref: map[string]float64{}, refWhat: "cap"})
	queued := b.table.add(&figure{id: "P5", what: "RSS added by 10,000 queued runs", unit: "MiB", goal: 50, atMost: true, goalText: "≤ +50 MB"})
	for _, bin := range b.bins {
		s, err := b.serve(bin.path, "p5idle-"+bin.name, quick, "", "HOOKFLOW_SECRET_QUICKSTART_SECRET=bench")
		if err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
		idle.values[bin.name] = s.rss()
		s.stop()

		s, err = b.serve(bin.path, "p5log-"+bin.name, map[string]string{"print.yaml": "on: {webhook: {path: print}}\nsandbox: {level: process}\n" +
			"steps: [{run: 'awk \"BEGIN { for (i = 0; i < 26214400; i++) print \\\"0123456789012345678901234567890123456789\\\" }\"'}]\n"}, "")
		if err != nil {
			return err
		}
		growth, size, err := printGigabyte(s)
		s.stop()
		if err != nil {
			flat.why[bin.name], served.why[bin.name] = err.Error(), err.Error()
		} else {
			flat.values[bin.name] = growth
			served.values[bin.name], served.ref[bin.name] = size, 8
		}

		s, err = b.serve(bin.path, "p5queue-"+bin.name, map[string]string{
			"hold.yaml": "on: {webhook: {path: hold}}\nconcurrency: {group: hold}\nsandbox: {level: process}\nsteps: [{run: 'sleep 600'}]\n",
		}, "shutdown_timeout: 1s\nlimits: {max_queued_runs: 100000000}\n")
		if err != nil {
			return err
		}
		if code, a, err := s.post("/hooks/hold", []byte(`{}`), nil); err != nil || code != 202 {
			s.stop()
			return fmt.Errorf("POST /hooks/hold: %d %v %s", code, err, a)
		}
		time.Sleep(2 * time.Second)
		before := s.rss()
		if err := fill([]*server{s}, "/hooks/hold", 10000); err != nil {
			queued.why[bin.name] = err.Error()
		} else {
			time.Sleep(2 * time.Second)
			queued.values[bin.name] = s.rss() - before
		}
		s.stop()
	}
	return nil
}

// fill sends n deliveries to path with 16 senders, spread over the servers.
func fill(servers []*server, path string, n int) error {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := servers[w%len(servers)]
			for next.Add(1) <= int64(n) {
				code, answer, err := s.post(path, []byte(`{}`), nil)
				if err == nil && code != 202 {
					err = fmt.Errorf("POST %s: %d %s", path, code, answer)
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}

// printGigabyte starts the printing run and samples the server's RSS until it
// ends; it returns the peak growth and the size of the log served, in MiB.
func printGigabyte(s *server) (float64, float64, error) {
	before := s.rss()
	code, answer, err := s.post("/hooks/print", []byte(`{}`), nil)
	if err != nil || code != 202 {
		return 0, 0, fmt.Errorf("POST /hooks/print: %d %v %s", code, err, answer)
	}
	var receipt struct {
		Runs []struct{ ID string } `json:"runs"`
	}
	if err := json.Unmarshal(answer, &receipt); err != nil || len(receipt.Runs) == 0 {
		return 0, 0, fmt.Errorf("no run in %s", answer)
	}
	id := receipt.Runs[0].ID
	peak := before
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		peak = max(peak, s.rss())
		var run struct{ Status string }
		if err := s.getJSON("/api/v1/runs/"+id, &run); err != nil {
			return 0, 0, err
		}
		if run.Status != "queued" && run.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("still running after 3 minutes")
		}
	}
	resp, err := httpGet(s.url + "/api/v1/runs/" + id + "/logs")
	if err != nil {
		return 0, 0, err
	}
	return peak - before, float64(resp) / (1 << 20), nil
}

// exampleWorkflows reads an example's workflow files.
func exampleWorkflows(dir string) (map[string]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no workflows in %s (run from the module's root)", dir)
	}
	files := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(n)] = string(b)
	}
	return files, nil
}

// median is the middle of v.
func median(v []float64) float64 { return percentile(v, 50) }

// percentile is the p-th percentile of v, nearest rank.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
