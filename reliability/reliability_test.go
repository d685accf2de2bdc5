// Package reliability proves hookflow's promises under faults and load, against
// real server processes: nothing acknowledged is lost to kill -9, overload is
// shed with 429/503 only, a full disk refuses instead of acknowledging, hostile
// clients don't take the server down, and a long run doesn't leak.
//
// make test runs it small; make reliability runs it at full size:
//
//	go test ./reliability -v -trials 10 -events 1000 -soak 10m
package reliability

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	trials   = flag.Int("trials", 2, "kill -9 trials")
	events   = flag.Int("events", 200, "deliveries per kill -9 trial")
	overload = flag.Duration("overload", 5*time.Second, "how long to overload the server")
	soak     = flag.Duration("soak", 10*time.Second, "how long the soak runs")
)

// figures collects the suite's results for the table printed at the end.
var figures struct {
	sync.Mutex
	rows []string
}

func record(format string, args ...any) {
	figures.Lock()
	defer figures.Unlock()
	figures.rows = append(figures.rows, fmt.Sprintf(format, args...))
}

func printFigures() {
	if len(figures.rows) == 0 {
		return
	}
	fmt.Println("\nreliability figures")
	for _, r := range figures.rows {
		fmt.Println("  " + r)
	}
}

// TestKillNine kills the server with SIGKILL in the middle of a burst, trial
// after trial, and checks after a restart that every acknowledged event was
// stored.
func TestKillNine(t *testing.T) {
	for trial := 1; trial <= *trials; trial++ {
		dir := newServerDir(t, "")
		s := start(t, dir)
		killAt := *events/3 + rand.IntN(*events/3+1)
		var acked sync.Map
		var ackedCount, sent atomic.Int64
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					n := int(sent.Add(1))
					if n > *events {
						return
					}
					code, id, err := deliver(ctx, s.url, "quick", n)
					if err != nil {
						return
					}
					if code == http.StatusAccepted && id != "" {
						acked.Store(id, n)
						if ackedCount.Add(1) == int64(killAt) {
							s.kill()
						}
					}
				}
			}()
		}
		wg.Wait()
		stop()
		s.kill()

		s = start(t, dir)
		stored, lost := 0, 0
		acked.Range(func(id, _ any) bool {
			if eventExists(t, s.url, id.(string)) {
				stored++
			} else {
				lost++
				t.Errorf("trial %d: acknowledged event %s was lost", trial, id)
			}
			return true
		})
		record("kill -9 trial %2d: %4d acknowledged, %4d stored, %d lost (killed after %d acks)", trial, stored+lost, stored, lost, killAt)
		s.stop()
	}
}

// TestOverload sends three times what the server can take for a while, with a
// small queue, and checks that only 429 and 503 are shed, that memory stays
// bounded, and that every acknowledged event was stored.
func TestOverload(t *testing.T) {
	dir := newServerDir(t, "limits: {max_queued_runs: 300, max_parallel_runs: 2}\n")
	s := start(t, dir)
	capacity := measure(t, s.url, "slow", 2*time.Second)
	rate := 3 * capacity
	codes := map[int]int{}
	var mu sync.Mutex
	var acked []string
	var peakRSS atomic.Int64
	ctx, stop := context.WithTimeout(context.Background(), *overload)
	defer stop()
	go func() {
		for ctx.Err() == nil {
			if r := s.rss(); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for n := 0; ctx.Err() == nil; n++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			code, id, err := deliver(context.Background(), s.url, "slow", n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			codes[code]++
			if code == http.StatusAccepted {
				acked = append(acked, id)
			}
		}()
		time.Sleep(interval)
	}
	wg.Wait()
	for code, n := range codes {
		if code != http.StatusAccepted && code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d under overload", n, code)
		}
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("nothing was shed at 3x capacity: %v", codes)
	}
	for _, id := range acked {
		if !eventExists(t, s.url, id) {
			t.Errorf("acknowledged event %s was lost", id)
		}
	}
	if peak := peakRSS.Load(); peak > 512<<20 {
		t.Errorf("resident memory reached %d MiB", peak>>20)
	}
	record("overload: capacity %.0f/s, sent at %.0f/s for %s: %d accepted, %d shed with 429, %d with 503, peak RSS %d MiB",
		capacity, rate, *overload, codes[202], codes[429], codes[503], peakRSS.Load()>>20)
}

// measure sends as fast as 16 senders can for d and returns accepted events a
// second.
func measure(t *testing.T, url, path string, d time.Duration) float64 {
	t.Helper()
	var n atomic.Int64
	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if code, _, err := deliver(ctx, url, path, 0); err == nil && code == http.StatusAccepted {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n.Load() == 0 {
		t.Fatal("no delivery was accepted while measuring capacity")
	}
	return float64(n.Load()) / d.Seconds()
}

// TestDiskFull puts the store on a small tmpfs, fills it, and checks that
// deliveries are refused with 503 (never acknowledged) and accepted again
// once there is room.
func TestDiskFull(t *testing.T) {
	dir := newServerDir(t, "")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the store (needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	s := start(t, dir)
	if code, _, err := deliver(context.Background(), s.url, "quick", 0); err != nil || code != http.StatusAccepted {
		t.Fatalf("before the disk filled: %d %v", code, err)
	}
	filler := filepath.Join(data, "filler")
	exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run() // stops when the tmpfs is full
	refused, acked := 0, []string{}
	for n := range 200 {
		code, id, err := deliver(context.Background(), s.url, "quick", n)
		if err != nil {
			t.Fatal(err)
		}
		switch code {
		case http.StatusServiceUnavailable:
			refused++
		case http.StatusAccepted:
			acked = append(acked, id)
		default:
			t.Errorf("delivery on a full disk: %d", code)
		}
	}
	if refused == 0 {
		t.Fatal("no delivery was refused on a full disk")
	}
	os.Remove(filler)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := deliver(context.Background(), s.url, "quick", 0)
		if err == nil && code == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries still refused after the disk was freed: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range acked {
		if !eventExists(t, s.url, id) {
			t.Errorf("event %s acknowledged on the full disk was lost", id)
		}
	}
	record("disk full: %d of 200 deliveries refused with 503, %d acknowledged and all stored; accepted again once freed", refused, len(acked))
}

// TestHostileClients holds hundreds of stalled and dribbling connections open
// while ordinary deliveries go on, then checks the server let go of them.
func TestHostileClients(t *testing.T) {
	dir := newServerDir(t, "limits: {read_header_timeout: 2s}\n")
	s := start(t, dir)
	before := s.metric(t, "go_goroutines")
	host := strings.TrimPrefix(s.url, "http://")
	var conns []net.Conn
	for i := range 300 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			c.Write([]byte("POST /hooks/quick HTTP/1.1\r\nHost: x\r\n")) // headers never end
		} else {
			c.Write([]byte("POST /hooks/quick HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{")) // body never comes
		}
	}
	for n := range 50 {
		if code, _, err := deliver(context.Background(), s.url, "quick", n); err != nil || code != http.StatusAccepted {
			t.Fatalf("ordinary delivery among hostile clients: %d %v", code, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	var after float64
	for {
		after = s.metric(t, "go_goroutines")
		if after <= before+20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if after > before+20 {
		t.Errorf("goroutines %0.f before, %0.f after the hostile clients left", before, after)
	}
	record("hostile clients: 300 stalled connections, 50/50 ordinary deliveries accepted, goroutines %.0f → %.0f", before, after)
}

// TestSoak keeps a steady load for a while and watches memory, goroutines and
// open files: they must level off, not grow with the number of requests.
func TestSoak(t *testing.T) {
	dir := newServerDir(t, "")
	s := start(t, dir)
	type sample struct{ rss, goroutines, fds float64 }
	var samples []sample
	ctx, stop := context.WithTimeout(context.Background(), *soak)
	defer stop()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, _, err := deliver(ctx, s.url, "quick", int(sent.Add(1))); err != nil && ctx.Err() == nil {
					t.Errorf("delivery: %v", err)
					return
				}
				if resp, err := client.Get(s.url + "/api/v1/runs?limit=20"); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	tick := time.NewTicker(max(*soak/20, 200*time.Millisecond))
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			samples = append(samples, sample{float64(s.rss()), s.metric(t, "go_goroutines"), s.metric(t, "process_open_fds")})
		}
	}
	wg.Wait()
	if len(samples) < 4 {
		t.Fatalf("only %d samples", len(samples))
	}
	quarter := len(samples) / 4
	avg := func(part []sample, f func(sample) float64) float64 {
		total := 0.0
		for _, s := range part {
			total += f(s)
		}
		return total / float64(len(part))
	}
	first, last := samples[1:quarter+1], samples[len(samples)-quarter:]
	rss0, rss1 := avg(first, func(s sample) float64 { return s.rss }), avg(last, func(s sample) float64 { return s.rss })
	g0, g1 := avg(first, func(s sample) float64 { return s.goroutines }), avg(last, func(s sample) float64 { return s.goroutines })
	f0, f1 := avg(first, func(s sample) float64 { return s.fds }), avg(last, func(s sample) float64 { return s.fds })
	if rss1 > rss0*1.5+16<<20 {
		t.Errorf("memory kept growing: %.0f MiB → %.0f MiB", rss0/(1<<20), rss1/(1<<20))
	}
	if g1 > g0*1.5+20 || f1 > f0*1.5+20 {
		t.Errorf("goroutines %.0f → %.0f, open files %.0f → %.0f", g0, g1, f0, f1)
	}
	vals := make([]float64, len(samples))
	for i, s := range samples {
		vals[i] = s.rss
	}
	sort.Float64s(vals)
	record("soak %s: %d deliveries; RSS %.0f → %.0f MiB (max %.0f), goroutines %.0f → %.0f, open files %.0f → %.0f",
		*soak, sent.Load(), rss0/(1<<20), rss1/(1<<20), vals[len(vals)-1]/(1<<20), g0, g1, f0, f1)
}
