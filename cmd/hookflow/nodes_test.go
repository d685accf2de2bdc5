package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres"
	"github.com/hookflow/hookflow/store/postgres/pgtest"
)

// These tests run several `hookflow serve` processes on one PostgreSQL
// database (SPEC §10), as TestKillDuringBurst runs one on SQLite.

// testLease is the nodes' lease: short, so that a killed node's runs are
// recovered within the test.
const testLease = 2 * time.Second

// node is one `hookflow serve` process of a cluster.
type node struct {
	cmd    *exec.Cmd
	url    string
	name   string // as runs record it: the default, host name and pid
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCluster writes files into dir/workflows and starts n nodes on a fresh
// database, with testLease; it returns them and the database's DSN.
func startCluster(t *testing.T, dir string, n int, files map[string]string) ([]*node, string) {
	t.Helper()
	return startClusterWithLease(t, dir, n, files, testLease)
}

// startClusterWithLease is startCluster with the nodes' lease.
func startClusterWithLease(t *testing.T, dir string, n int, files map[string]string, lease time.Duration) ([]*node, string) {
	t.Helper()
	dsn := pgtest.Database(t)
	for name, src := range files {
		writeFile(t, filepath.Join(dir, "workflows", name), src)
	}
	config := filepath.Join(dir, "hookflow.yaml")
	writeFile(t, config, fmt.Sprintf("store: '%s'\nlimits: {lease: %s, max_parallel_runs: 4}\nshutdown_timeout: 2s\n", dsn, lease))
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, dir, config, i)
	}
	t.Cleanup(func() {
		for i, nd := range nodes {
			nd.cmd.Process.Kill()
			nd.cmd.Wait()
			if t.Failed() {
				log := nd.stderr.String()
				t.Logf("node %d (%s) log, last lines:\n%s", i, nd.name, log[max(0, len(log)-4000):])
			}
		}
	})
	return nodes, dsn
}

// startNode starts node i and waits until it listens.
func startNode(t *testing.T, dir, config string, i int) *node {
	t.Helper()
	nd := launchServe(t, nil, "--config", config, "--listen", "127.0.0.1:0",
		"--workflows", filepath.Join(dir, "workflows"), "--data", filepath.Join(dir, fmt.Sprint("node-", i)))
	host, _ := os.Hostname()
	nd.name = host + "-" + strconv.Itoa(nd.cmd.Process.Pid)
	return nd
}

// launchServe starts `hookflow serve` with args, and env added to the
// test's, and waits until it listens. Stopping it is the caller's.
func launchServe(t *testing.T, env []string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "HOOKFLOW_TEST_AS_COMMAND=1", "HOOKFLOW_NODE="), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = nd.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case nd.url = <-found:
		return nd
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("hookflow serve %v did not start:\n%s", args, nd.stderr.String())
		return nil
	}
}

// kill stops nd with SIGKILL: no shutdown, its sessions just end.
func (nd *node) kill(t *testing.T) {
	t.Helper()
	if err := nd.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nd.cmd.Wait()
}

// leads reports whether nd's log says it became the cron leader and has not
// said since that it stopped.
func (nd *node) leads() bool {
	log := nd.stderr.String()
	return strings.LastIndex(log, "msg=leading role=cron") > strings.LastIndex(log, "msg=\"stopped leading")
}

// outputs makes the folder, outside the nodes' data folders, that the test's
// steps may write to.
func outputs(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// openCheck opens the cluster's database for the test's own checks.
func openCheck(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// waitFor polls cond until it holds, for at most limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runsOf lists every run of workflow.
func runsOf(t *testing.T, st store.Store, workflow string) []*store.Run {
	t.Helper()
	runs, err := st.ListRuns(t.Context(), store.RunFilter{Workflow: workflow})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// allFinished reports whether no run is queued or running.
func allFinished(t *testing.T, st store.Store) bool {
	t.Helper()
	for _, status := range []string{"queued", "running"} {
		runs, err := st.ListRuns(t.Context(), store.RunFilter{Status: status, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			return false
		}
	}
	return true
}

// countLines counts, per run, the lines "start ID" and "end ID" of file.
func countLines(t *testing.T, file string) (starts, ends map[string]int) {
	t.Helper()
	starts, ends = map[string]int{}, map[string]int{}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		what, id, _ := strings.Cut(line, " ")
		switch what {
		case "start":
			starts[id]++
		case "end":
			ends[id]++
		default:
			t.Fatalf("unexpected line %q in %s", line, file)
		}
	}
	return starts, ends
}

// TestNodesRunEveryWebhookOnce sends 1,000 webhooks spread over three nodes
// and SIGKILLs one of them while it runs some: every run is executed once,
// those the dead node was running end failed ("interrupted") once another
// node recovers them after their lease, and none is left queued or running.
func TestNodesRunEveryWebhookOnce(t *testing.T) {
	const webhooks, senders = 1000, 12
	dir := t.TempDir()
	executions := filepath.Join(outputs(t, dir), "executions")
	nodes, dsn := startCluster(t, dir, 3, map[string]string{"work.yaml": fmt.Sprintf(`
on: {webhook: {path: work, provider: generic, delivery_header: X-Delivery}}
sandbox: {level: process, writable: [%q]}
env: {LOG: %q}
steps:
  - run: |
      echo "start $HOOKFLOW_RUN_ID" >> "$LOG"
      sleep 0.05
      echo "end $HOOKFLOW_RUN_ID" >> "$LOG"
`, filepath.Dir(executions), executions)})
	st := openCheck(t, dsn)
	victim := nodes[1]

	// Each webhook goes to the next node; a sender whose node is gone sends
	// the same delivery to another one, as a webhook sender retries.
	var (
		mu    sync.Mutex
		runOf = map[int]string{} // webhook → its run
		acked atomic.Int64
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			client := &http.Client{Timeout: time.Minute}
			for i := range work {
				id, err := deliverTo(client, nodes, i)
				if err != nil {
					t.Errorf("webhook %d: %v", i, err)
					continue
				}
				mu.Lock()
				runOf[i] = id
				mu.Unlock()
				acked.Add(1)
			}
		})
	}
	go func() {
		defer close(work)
		for i := range webhooks {
			work <- i
		}
	}()

	// Kill the victim once it runs some runs, while webhooks still come in.
	waitFor(t, 2*time.Minute, "the victim runs runs", func() bool {
		running, err := st.ListRuns(t.Context(), store.RunFilter{Status: "running"})
		if err != nil {
			t.Fatal(err)
		}
		return acked.Load() >= webhooks/3 && slices.ContainsFunc(running, func(r *store.Run) bool { return r.Node == victim.name })
	})
	victim.kill(t)
	killed := time.Now()
	t.Logf("killed %s after %d webhooks were acknowledged", victim.name, acked.Load())
	waitFor(t, 20*testLease, "another node recovers the victim's runs", func() bool {
		running, err := st.ListRuns(t.Context(), store.RunFilter{Status: "running"})
		if err != nil {
			t.Fatal(err)
		}
		return !slices.ContainsFunc(running, func(r *store.Run) bool { return r.Node == victim.name })
	})
	t.Logf("the victim's runs were recovered %s after the kill (lease %s)", time.Since(killed).Round(time.Millisecond), testLease)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, 5*time.Minute, "every run finishes", func() bool { return allFinished(t, st) })

	runs := runsOf(t, st, "work")
	if len(runs) != webhooks || len(slices.Compact(slices.Sorted(maps.Values(runOf)))) != webhooks {
		t.Fatalf("%d runs stored, %d distinct acknowledged, for %d webhooks", len(runs), len(slices.Compact(slices.Sorted(maps.Values(runOf)))), webhooks)
	}
	starts, ends := countLines(t, executions)
	perNode := map[string]int{}
	interrupted := 0
	for _, r := range runs {
		perNode[r.Node]++
		if starts[r.ID] > 1 {
			t.Errorf("run %s (%s on %s) started %d times", r.ID, r.Status, r.Node, starts[r.ID])
		}
		switch {
		case r.Status == "succeeded":
			if starts[r.ID] != 1 || ends[r.ID] != 1 {
				t.Errorf("run %s succeeded on %s, but ran %d times to its end", r.ID, r.Node, ends[r.ID])
			}
		case r.Status == "failed" && r.Reason == "interrupted" && r.Node == victim.name:
			interrupted++
		default:
			t.Errorf("run %s on %s ended %s (%q)", r.ID, r.Node, r.Status, r.Reason)
		}
		delete(starts, r.ID)
	}
	if len(starts) > 0 {
		t.Errorf("%d executions of runs that do not exist", len(starts))
	}
	if interrupted == 0 {
		t.Error("no run was recorded as interrupted, though the victim was running some when it was killed")
	}
	t.Logf("runs per node: %v; %d interrupted on the victim", perNode, interrupted)
}

// deliverTo posts webhook i to the nodes in turn, from node i%len(nodes) on,
// until one acknowledges it, and returns its run.
func deliverTo(client *http.Client, nodes []*node, i int) (string, error) {
	var last error
	for attempt := range 3 * len(nodes) {
		nd := nodes[(i+attempt)%len(nodes)]
		req, _ := http.NewRequest("POST", nd.url+"/hooks/work", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Delivery", fmt.Sprint("delivery-", i))
		resp, err := client.Do(req)
		if err != nil {
			last = err // the node is gone: try the next one
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			last = fmt.Errorf("%s: %d %s", nd.url, resp.StatusCode, body)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// 202 for a new delivery; 200 for one a node stored before, maybe one
		// that died before it could answer.
		var rc struct {
			Runs      []struct{ ID string }
			Duplicate bool
		}
		err = json.Unmarshal(body, &rc)
		ok := resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK && rc.Duplicate
		if err != nil || !ok || len(rc.Runs) != 1 {
			return "", fmt.Errorf("%s: %d %s", nd.url, resp.StatusCode, body)
		}
		return rc.Runs[0].ID, nil
	}
	return "", last
}

// TestNodesKeepAGroupInOrder dispatches the runs of one concurrency group to
// three nodes in turn: they run one at a time, whichever node claims them,
// in the order they were dispatched.
func TestNodesKeepAGroupInOrder(t *testing.T) {
	const n = 30
	dir := t.TempDir()
	stamps := filepath.Join(outputs(t, dir), "stamps")
	nodes, dsn := startCluster(t, dir, 3, map[string]string{"one.yaml": fmt.Sprintf(`
on: {dispatch: {inputs: {n: {}}}}
sandbox: {level: process, writable: [%q]}
concurrency: {group: one}
env: {N: "${{ inputs.n }}", LOG: %q}
steps:
  - run: |
      echo "start $N" >> "$LOG"
      sleep 0.05
      echo "end $N" >> "$LOG"
`, filepath.Dir(stamps), stamps)})
	st := openCheck(t, dsn)
	dispatchEach(t, nodes, "one", n)
	waitFor(t, 3*time.Minute, "every run finishes", func() bool { return allFinished(t, st) })

	data, err := os.ReadFile(stamps)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint("start ", i), fmt.Sprint("end ", i))
	}
	if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !slices.Equal(got, want) {
		t.Fatalf("the group's runs overlapped or ran out of order:\n%s", data)
	}
	perNode := map[string]int{}
	for _, r := range runsOf(t, st, "one") {
		if r.Status != "succeeded" {
			t.Errorf("run %s ended %s (%q)", r.ID, r.Status, r.Reason)
		}
		perNode[r.Node]++
	}
	t.Logf("runs per node: %v", perNode)
}

// TestNodesFireCronOnce runs a per-second schedule on three nodes: one node
// leads and fires each tick once; when it is killed, another takes over and
// the ticks go on.
func TestNodesFireCronOnce(t *testing.T) {
	dir := t.TempDir()
	nodes, dsn := startCluster(t, dir, 3, map[string]string{"tick.yaml": `
on: {cron: "@every 1s"}
sandbox: {level: process}
steps:
  - run: "true"
`})
	st := openCheck(t, dsn)
	leader := func(among []*node) *node {
		var leaders []*node
		for _, nd := range among {
			if nd.leads() {
				leaders = append(leaders, nd)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("%d nodes lead cron at once", len(leaders))
		}
		if len(leaders) == 0 {
			return nil
		}
		return leaders[0]
	}
	ticks := func(after time.Time) int {
		events, err := st.ListEvents(t.Context(), store.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Trigger == "cron" && e.ReceivedAt.After(after) {
				n++
			}
		}
		return n
	}

	var first *node
	waitFor(t, time.Minute, "a node leads cron", func() bool { first = leader(nodes); return first != nil })
	waitFor(t, time.Minute, "three ticks", func() bool { return ticks(time.Time{}) >= 3 })
	first.kill(t)
	killed := time.Now()
	survivors := slices.DeleteFunc(slices.Clone(nodes), func(nd *node) bool { return nd == first })
	var second *node
	waitFor(t, time.Minute, "another node leads cron", func() bool { second = leader(survivors); return second != nil })
	waitFor(t, time.Minute, "three ticks after the leader died", func() bool { return ticks(killed) >= 3 })
	t.Logf("cron leader %s killed; %s took over", first.name, second.name)

	// Each tick is one event, with one run.
	events, err := st.ListEvents(t.Context(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]string{}
	for _, e := range events {
		if e.Trigger != "cron" {
			continue
		}
		if other, ok := seen[e.ReceivedAt]; ok {
			t.Errorf("the tick of %s fired twice: events %s and %s", e.ReceivedAt, other, e.ID)
		}
		seen[e.ReceivedAt] = e.ID
		if len(e.Verdicts) != 1 || len(e.Verdicts[0].Runs) != 1 {
			t.Errorf("tick event %s: verdicts %+v, want one run", e.ID, e.Verdicts)
		}
	}
	t.Logf("%d ticks", len(seen))
}

// dispatchEach dispatches workflow n times, with input n from 0, to the
// nodes in turn.
func dispatchEach(t *testing.T, nodes []*node, workflow string, n int) {
	t.Helper()
	for i := range n {
		resp, err := http.Post(nodes[i%len(nodes)].url+"/api/v1/workflows/"+workflow+"/dispatch", "application/json",
			strings.NewReader(fmt.Sprintf(`{"inputs":{"n":"%d"}}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("dispatch %d: %d", i, resp.StatusCode)
		}
	}
}

// TestNodesRunJobs dispatches runs of a `jobs:` workflow to three nodes: every
// run's jobs run in needs order, and the jobs of one concurrency group never
// overlap, whichever node runs them.
func TestNodesRunJobs(t *testing.T) {
	const n = 9
	dir := t.TempDir()
	stamps := filepath.Join(outputs(t, dir), "stamps")
	nodes, dsn := startCluster(t, dir, 3, map[string]string{"jobs.yaml": fmt.Sprintf(`
on: {dispatch: {inputs: {n: {}}}}
sandbox: {level: process, writable: [%q]}
env: {N: "${{ inputs.n }}", LOG: %q}
jobs:
  build:
    steps:
      - id: b
        run: echo "artifact=a-$N" >> "$HOOKFLOW_OUTPUT"
    outputs: {artifact: "${{ steps.b.outputs.artifact }}"}
  deploy:
    needs: build
    concurrency: {group: prod}
    env: {ARTIFACT: "${{ needs.build.outputs.artifact }}"}
    steps:
      - run: |
          echo "start $ARTIFACT" >> "$LOG"
          sleep 0.05
          echo "end $ARTIFACT" >> "$LOG"
`, filepath.Dir(stamps), stamps)})
	st := openCheck(t, dsn)
	dispatchEach(t, nodes, "jobs", n)
	waitFor(t, 3*time.Minute, "every run finishes", func() bool { return allFinished(t, st) })

	data, err := os.ReadFile(stamps)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	seen := map[string]bool{}
	for i := 0; i+1 < len(lines); i += 2 {
		artifact, ok := strings.CutPrefix(lines[i], "start ")
		if !ok || lines[i+1] != "end "+artifact || seen[artifact] {
			t.Fatalf("deploys of one group overlapped or repeated:\n%s", data)
		}
		seen[artifact] = true
	}
	if len(seen) != n || len(lines) != 2*n {
		t.Fatalf("%d deploys, want %d:\n%s", len(seen), n, data)
	}
	perNode := map[string]int{}
	for _, r := range runsOf(t, st, "jobs") {
		if r.Status != "succeeded" {
			t.Errorf("run %s ended %s (%q)", r.ID, r.Status, r.Reason)
		}
		jobs, err := st.Jobs(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0].Status != "succeeded" || jobs[1].Status != "succeeded" || !jobs[1].StartedAt.After(jobs[0].FinishedAt.Add(-time.Millisecond)) {
			t.Errorf("run %s: jobs %+v", r.ID, jobs)
		}
		perNode[r.Node]++
	}
	t.Logf("runs per node: %v", perNode)
}
