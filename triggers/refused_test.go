package triggers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

// refusalStore is a real SQLite store with a RefusalLog writing to it, for
// the endpoint to record its refusals in.
func refusalStore(t *testing.T) (*sqlite.Store, *store.RefusalLog) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "refused.db"), sqlite.Options{Durability: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	log := store.NewRefusalLog(st, store.RefusalLogOptions{Interval: time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); log.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return st, log
}

// waitRefusals waits until st holds n refusals and returns them, oldest
// first.
func waitRefusals(t *testing.T, st *sqlite.Store, n int) []*workflows.Refusal {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := st.ListRefusals(t.Context(), store.RefusalFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) >= n || time.Now().After(deadline) {
			if len(rs) != n {
				t.Fatalf("%d refusals recorded, want %d: %+v", len(rs), n, rs)
			}
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// githubSignature signs body as GitHub does with secret.
func githubSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhookRecordsRefusals(t *testing.T) {
	const secret = "s3cret-value"
	st, log := refusalStore(t)
	s := startHooks(t, map[string]string{
		"gh.yaml": "on: {webhook: {path: gh, provider: github, secret: \"${{ secrets.GH }}\"}}\nsteps: [{run: 'true'}]\n",
	}, func(h *Webhooks) {
		h.Refusals = log
		h.Intake.Secrets = func([]string) map[string]string { return map[string]string{"GH": secret} }
	})
	client := clientFrom("127.0.0.1")
	github := func(delivery, signature string) http.Header {
		return http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {delivery},
			"X-Hub-Signature-256": {signature}, "Authorization": {"Bearer tok-123"}, "Cookie": {"session=abc"},
			"X-Api-Key": {"k-1"}, "X-Shopify-Hmac-Sha256": {"h-1"}, "X-Hook-Password": {"p-1"},
			"Content-Type": {"application/json"}}
	}
	const push = `{"ref":"refs/heads/main"}`

	steps := []struct {
		name, method, path, body string
		header                   http.Header
		code                     int
		stored                   bool
	}{
		{"bad signature", "POST", "gh", push, github("d-1", "sha256=00ff"), 401, false},
		{"unknown path", "POST", "nope", push, github("d-2", githubSignature(secret, push)), 404, false},
		{"wrong method", "PUT", "gh", push, github("d-3", githubSignature(secret, push)), 405, false},
		{"accepted", "POST", "gh", push, github("d-4", githubSignature(secret, push)), 202, true},
		{"duplicate", "POST", "gh", push, github("d-4", githubSignature(secret, push)), 200, false},
		{"malformed", "POST", "gh", "{not json", github("d-5", githubSignature(secret, "{not json")), 400, false},
	}
	for _, step := range steps {
		req, err := http.NewRequest(step.method, s.url+"/hooks/"+step.path, strings.NewReader(step.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = step.header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != step.code {
			t.Fatalf("%s: answered %d, want %d", step.name, resp.StatusCode, step.code)
		}
	}

	rs := waitRefusals(t, st, 5)
	want := []struct {
		path, method string
		status       int
		reason       string
		provider     string
		delivery     string
		body         string
	}{
		{"gh", "POST", 401, "missing or invalid signature: github: X-Hub-Signature-256 does not match the body", "github", "", ""},
		{"nope", "POST", 404, "no workflow serves /hooks/nope", "", "", ""},
		{"gh", "PUT", 405, "method PUT not allowed", "github", "", ""},
		{"gh", "POST", 200, "duplicate delivery: already stored as event ", "github", "d-4", push},
		{"gh", "POST", 400, "", "github", "", "{not json"},
	}
	for i, w := range want {
		r := rs[i]
		if r.Path != w.path || r.Method != w.method || r.Status != w.status || r.Provider != w.provider ||
			r.Delivery != w.delivery || r.Body != w.body || !strings.HasPrefix(r.Reason, w.reason) || r.Reason == "" {
			t.Errorf("refusal %d = %+v,\nwant %+v", i, r, w)
		}
		if r.Remote != "127.0.0.1" || r.ID == "" || r.Time.IsZero() {
			t.Errorf("refusal %d: remote %q id %q time %v", i, r.Remote, r.ID, r.Time)
		}
		for _, name := range []string{"X-Hub-Signature-256", "Authorization", "Cookie", "X-Api-Key", "X-Shopify-Hmac-Sha256", "X-Hook-Password"} {
			if r.Headers[name] != "***" {
				t.Errorf("refusal %d: header %s = %q, want it redacted", i, name, r.Headers[name])
			}
		}
		if r.Headers["X-Github-Event"] != "push" {
			t.Errorf("refusal %d: headers %v lost X-Github-Event", i, r.Headers)
		}
		for _, v := range r.Headers {
			if strings.Contains(v, "tok-123") || strings.Contains(v, "session=abc") || strings.Contains(v, "k-1") ||
				strings.Contains(v, "h-1") || strings.Contains(v, "p-1") {
				t.Errorf("refusal %d: a credential is kept: %v", i, r.Headers)
			}
		}
	}
	if log.Dropped() != 0 {
		t.Errorf("Dropped = %d", log.Dropped())
	}
}
