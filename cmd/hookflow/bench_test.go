package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/config"
)

// BenchmarkWebhook loads a live server on 127.0.0.1 with 32 concurrent
// connections sending GitHub pushes: verified and stored (the push matches no
// branch, so no run is queued and the figure is the endpoint's own), and
// rejected for a bad signature; and verified and stored again while 8 more
// connections send bad signatures as fast as they can, each recorded as a
// refused delivery. It reports requests a second and the 99th percentile
// latency, and with the flood the refusals a second and how many the
// refusal log dropped.
func BenchmarkWebhook(b *testing.B) {
	const secret = "bench-secret-value"
	a := startApp(b, map[string]string{
		"deploy.yaml": "on: {webhook: {path: gh, provider: github, secret: " + secret + ", branches: [main]}}\nsteps: [{run: 'true'}]\n",
	}, func(c *config.Config) { c.Durability = "sync" })
	body := `{"ref":"refs/heads/feature","after":"abc","repository":{"full_name":"org/repo"}}`
	for _, tt := range []struct {
		name      string
		signature string
		want      int
		flood     bool // bad signatures sent meanwhile
	}{
		{"accepted", "sha256=" + hmacHex(secret, body), http.StatusOK, false},
		{"rejected", "sha256=" + hmacHex("wrong", body), http.StatusUnauthorized, false},
		{"accepted-during-refusal-flood", "sha256=" + hmacHex(secret, body), http.StatusOK, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 40, MaxConnsPerHost: 40}}
			post := func(signature string) (int, error) {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", a.url+"/hooks/gh", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-Hub-Signature-256", signature)
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			stop := make(chan struct{})
			var refused atomic.Int64
			var flooders sync.WaitGroup
			for i := 0; tt.flood && i < 8; i++ {
				flooders.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if code, err := post("sha256=" + hmacHex("wrong", body)); err == nil && code == http.StatusUnauthorized {
							refused.Add(1)
						}
					}
				})
			}
			dropped := a.refusals.Dropped()
			var n atomic.Int64
			var mu sync.Mutex
			var latencies []time.Duration
			work := make(chan struct{})
			var wg sync.WaitGroup
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for range work {
						start := time.Now()
						code, err := post(tt.signature)
						if err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(start))
						if code != tt.want {
							b.Errorf("status %d, want %d", code, tt.want)
							return
						}
						n.Add(1)
					}
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
				}()
			}
			start := time.Now()
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			elapsed := time.Since(start)
			close(stop)
			flooders.Wait()
			if tt.flood {
				b.ReportMetric(float64(refused.Load())/elapsed.Seconds(), "refused/s")
				b.ReportMetric(float64(a.refusals.Dropped()-dropped), "dropped")
			}
			slices.Sort(latencies)
			b.ReportMetric(float64(n.Load())/elapsed.Seconds(), "req/s")
			if len(latencies) > 0 {
				b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
