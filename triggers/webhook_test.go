package triggers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

// hookServer is the webhook endpoint served over real HTTP on 127.0.0.1, with
// workflows from a folder and a real dispatcher storing into SQLite.
type hookServer struct {
	url      string
	hooks    *Webhooks
	registry *prometheus.Registry
}

// startHooks writes files into a workflow folder and serves them. mod may set
// fields of the Webhooks before it is registered.
func startHooks(t *testing.T, files map[string]string, mod func(*Webhooks)) *hookServer {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	source, err := NewSource(ctx, func(context.Context) (*workflows.Set, error) { return workflows.LoadPaths(nil, dir) }, nil, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"), sqlite.Options{Durability: "normal"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	dispatcher := runner.NewDispatcher(runner.DispatcherConfig{Store: st, MaxQueued: 1000})
	var running sync.WaitGroup
	running.Go(func() { dispatcher.Run(ctx) })

	h := &Webhooks{Intake: &intake.Intake{Workflows: source.Set, Commit: dispatcher}, MaxBody: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(h)
	}
	registry := prometheus.NewRegistry()
	h.SetMetrics(registry)
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		running.Wait()
		st.Close()
	})
	return &hookServer{url: srv.URL, hooks: h, registry: registry}
}

// answer is a webhook's answer.
type answer struct {
	code       int
	retryAfter string
	body       string
}

// clientFrom is an HTTP client whose connections come from the local address ip.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext}}
}

// post sends body to /hooks/path with client and returns the answer.
func (s *hookServer) post(t testing.TB, client *http.Client, path, body string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/hooks/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}

// megabyteArray is a JSON array of one-digit numbers just under 1 MiB: the
// most items per byte an unauthenticated sender can post.
func megabyteArray() string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; b.Len() < 1<<20-8; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i % 10))
	}
	b.WriteByte(']')
	return b.String()
}

// heapPeak samples the bytes of live and unswept heap objects until stop is
// closed, and returns the largest figure seen.
func heapPeak(stop <-chan struct{}) func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { <-done; return peak.Load() }
}

// Filters over a 1 MB array posted to a path without a secret used to take
// hundreds of megabytes and most of a CPU second per delivery. Now each stops
// at its budget, the delivery is answered 200 with the reason, and eight at
// once leave the heap well bounded.
func TestWebhookFiltersOverLargeBodies(t *testing.T) {
	const if_ = "on: {webhook: {path: open, provider: generic}}\nif: '%s'\nsteps: [{run: 'true'}]\n"
	s := startHooks(t, map[string]string{
		"filter.yaml": strings.Replace(if_, "%s", `len(filter(event.body, {# > 3 && # < 6})) > 0`, 1),
		"map.yaml":    strings.Replace(if_, "%s", `map(event.body, {# * 3 + 1})[0] > 0`, 1),
		"all.yaml":    strings.Replace(if_, "%s", `all(event.body, {# >= 0 && # < 10})`, 1),
		"small.yaml": "on: {webhook: {path: small, provider: generic}}\n" +
			"if: 'len(filter(event.body, {# > 3 && # < 6})) == 2'\nsteps: [{run: 'true'}]\n",
	}, func(h *Webhooks) {
		// Set here, so that the figure does not depend on the CPUs; a slow
		// machine makes deliveries wait, not fail.
		h.MaxMatching, h.SlotWait = 2, time.Minute
	})
	client := clientFrom("127.0.0.1")

	// An ordinary filter still matches.
	if a := s.post(t, client, "small", `[1,2,3,4,5,6,7]`, nil); a.code != http.StatusAccepted || !strings.Contains(a.body, `"workflow":"small"`) {
		t.Fatalf("small body: %d %s", a.code, a.body)
	}

	body := megabyteArray()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	stop := make(chan struct{})
	peak := heapPeak(stop)

	const senders = 8
	answers := make([]answer, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() { answers[i] = s.post(t, client, "open", body, nil) })
	}
	wg.Wait()
	close(stop)
	growth := int64(peak()) - int64(before)
	t.Logf("heap grew by %d MiB at most during %d deliveries of %d KiB", growth>>20, senders, len(body)>>10)

	for i, a := range answers {
		var rc workflows.Receipt
		if err := json.Unmarshal([]byte(a.body), &rc); a.code != http.StatusOK || err != nil {
			t.Fatalf("delivery %d: %d %s", i, a.code, a.body)
		}
		if len(rc.Runs) != 0 || len(rc.Skipped) != 3 {
			t.Fatalf("delivery %d: %+v", i, rc)
		}
		for _, skip := range rc.Skipped {
			if skip.Reason != "if: expression exceeded its evaluation budget" {
				t.Errorf("delivery %d: %s skipped for %q", i, skip.Workflow, skip.Reason)
			}
		}
	}
	if growth > 200<<20 {
		t.Errorf("heap grew by %d MiB during %d deliveries; want under 200 MiB", growth>>20, senders)
	}
}

// requests reads hookflow_webhook_requests_total{path,code}.
func (s *hookServer) requests(t *testing.T, path, code string) float64 {
	t.Helper()
	families, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "hookflow_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["path"] == path && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A burst over limits.rate from one address is refused with 429 and a
// Retry-After in whole seconds, rounded up; another address is still served.
func TestWebhookRateLimit(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s := startHooks(t, map[string]string{
		"open.yaml": "on: {webhook: {path: open, provider: generic}}\nsteps: [{run: 'true'}]\n",
	}, func(h *Webhooks) {
		// The clock stands still, so no token comes back during the test.
		h.Rate, h.Now = RateLimit{PerSecond: 0.4, Burst: 2}, func() time.Time { return now }
	})
	first, second := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	for i := range 2 {
		if a := s.post(t, first, "open", `{}`, nil); a.code != http.StatusAccepted {
			t.Fatalf("delivery %d within the burst: %d %s", i, a.code, a.body)
		}
	}
	for _, path := range []string{"open", "nowhere"} {
		a := s.post(t, first, path, `{}`, nil)
		var e struct{ Error string }
		if a.code != http.StatusTooManyRequests || json.Unmarshal([]byte(a.body), &e) != nil || e.Error == "" {
			t.Fatalf("/hooks/%s over the limit: %d %s", path, a.code, a.body)
		}
		if a.retryAfter != "3" { // a token every 2.5s
			t.Errorf("/hooks/%s: Retry-After %q, want 3", path, a.retryAfter)
		}
	}
	if a := s.post(t, second, "open", `{}`, nil); a.code != http.StatusAccepted {
		t.Fatalf("another address: %d %s", a.code, a.body)
	}
	if n := s.requests(t, "open", "429"); n != 1 {
		t.Errorf("requests{path=open,code=429} = %v, want 1", n)
	}
	if n := s.requests(t, "unknown", "429"); n != 1 {
		t.Errorf("requests{path=unknown,code=429} = %v, want 1", n)
	}
	if n := s.requests(t, "open", "202"); n != 3 {
		t.Errorf("requests{path=open,code=202} = %v, want 3", n)
	}
}

// The limiter remembers at most MaxClients addresses however many send.
func TestWebhookRateLimitRemembersFewAddresses(t *testing.T) {
	s := startHooks(t, map[string]string{
		"open.yaml": "on: {webhook: {path: open, provider: generic}}\nsteps: [{run: 'true'}]\n",
	}, func(h *Webhooks) { h.Rate, h.MaxClients = RateLimit{PerSecond: 1}, 4 })
	for i := 1; i <= 12; i++ {
		ip := "127.0.0." + strconv.Itoa(i)
		if a := s.post(t, clientFrom(ip), "open", `{}`, nil); a.code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", ip, a.code, a.body)
		}
		if n := s.hooks.clients.size(); n > 4 {
			t.Fatalf("after %s: %d addresses remembered, want at most 4", ip, n)
		}
	}
}

func TestClientLimits(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	l := newClientLimits(RateLimit{PerSecond: 10, Burst: 5}, 1000)
	for i := range 100_000 {
		addr := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String()
		if ok, _ := l.allow(addr, now); !ok {
			t.Fatalf("%s refused on its first delivery", addr)
		}
	}
	if n := l.size(); n != 1000 {
		t.Fatalf("%d addresses remembered, want 1000", n)
	}
	// Once their buckets are full again, idle addresses are forgotten.
	if ok, _ := l.allow("10.255.0.1", now.Add(time.Second)); !ok || l.size() != 1 {
		t.Fatalf("after the refill: allowed %v, %d addresses remembered, want 1", ok, l.size())
	}

	// The addresses of an IPv6 /64 share one bucket.
	for i := range 5 {
		if ok, _ := l.allow("2001:db8:1:2::"+strconv.Itoa(i+1), now); !ok {
			t.Fatalf("delivery %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("2001:db8:1:2:ffff::9", now)
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("sixth delivery from the /64: allowed %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("2001:db8:1:3::1", now); !ok {
		t.Fatal("another /64 refused")
	}
	if got := retryAfter(wait); got != "1" {
		t.Errorf("Retry-After for %v = %q, want 1", wait, got)
	}
}

// A delivery that finds no room in the slots for SlotWait gets 429 with
// Retry-After; once room is free, deliveries are served again. A slot holds
// one delivery of max_body, or many small ones.
func TestWebhookSlots(t *testing.T) {
	tests := []struct {
		name, held string
		want       int // for a small delivery while held is in work
	}{
		{"a large delivery fills the slot", `{"pad":"` + strings.Repeat("x", 1<<20-100) + `"}`, http.StatusTooManyRequests},
		{"a small one leaves room", `{}`, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			s := startHooks(t, map[string]string{
				"held.yaml": "on: {webhook: {path: held, provider: generic, secret: \"${{ secrets.TOKEN }}\"}}\nsteps: [{run: 'true'}]\n",
				"open.yaml": "on: {webhook: {path: open, provider: generic}}\nsteps: [{run: 'true'}]\n",
			}, func(h *Webhooks) {
				h.MaxMatching, h.SlotWait = 1, 50*time.Millisecond
				// Reading the secret happens in the slot: the delivery to
				// `held` stays there until the test lets go.
				h.Intake.Secrets = func(names []string) map[string]string {
					if slices.Contains(names, "TOKEN") {
						close(entered)
						<-release
					}
					return map[string]string{"TOKEN": "held-token-value"}
				}
			})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free) // before the server stops

			client := clientFrom("127.0.0.1")
			held := make(chan answer, 1)
			go func() {
				held <- s.post(t, client, "held", tt.held, http.Header{"X-Hookflow-Token": {"held-token-value"}})
			}()
			select {
			case <-entered:
			case <-time.After(time.Minute):
				t.Fatal("the delivery to held never read its secret")
			}
			a := s.post(t, client, "open", `{}`, nil)
			if a.code != tt.want {
				t.Errorf("delivery while held is in work: %d %s, want %d", a.code, a.body, tt.want)
			}
			if a.code == http.StatusTooManyRequests {
				if a.retryAfter != "1" {
					t.Errorf("Retry-After %q, want 1", a.retryAfter)
				}
				if n := s.requests(t, "open", "429"); n != 1 {
					t.Errorf("requests{path=open,code=429} = %v, want 1", n)
				}
			}
			free()
			if a := <-held; a.code != http.StatusAccepted {
				t.Fatalf("the delivery to held: %d %s", a.code, a.body)
			}
			if a := s.post(t, client, "open", `{}`, nil); a.code != http.StatusAccepted {
				t.Fatalf("delivery afterwards: %d %s", a.code, a.body)
			}
		})
	}
}
