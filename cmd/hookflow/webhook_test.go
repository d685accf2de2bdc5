package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/workflows"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func hmacHex(secret, content string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(content))
	return hex.EncodeToString(m.Sum(nil))
}

// signer signs a delivery the way a provider does, at time ts.
type signer func(h http.Header, body, secret string, ts time.Time)

// providerCase is a provider's delivery: how it signs, a payload, and the
// headers that name the event.
type providerCase struct {
	provider string
	secret   string
	body     string
	headers  map[string]string
	sign     signer
	// timestamped schemes also refuse stale deliveries.
	timestamped bool
	// token schemes do not sign the body, so a changed body passes.
	token bool
}

var standardKey = []byte("standard-webhooks-test-key-32byt")

var providerCases = []providerCase{
	{provider: "github", secret: "gh-secret-value", body: `{"ref":"refs/heads/main","after":"abc"}`,
		headers: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"},
		sign: func(h http.Header, body, secret string, _ time.Time) {
			h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
		}},
	{provider: "gitlab", token: true, secret: "gl-secret-value", body: `{"object_kind":"push","ref":"refs/heads/main"}`,
		headers: map[string]string{"X-Gitlab-Event": "Push Hook"},
		sign:    func(h http.Header, _, secret string, _ time.Time) { h.Set("X-Gitlab-Token", secret) }},
	{provider: "gitea", secret: "gitea-secret-val", body: `{"ref":"refs/heads/main"}`,
		headers: map[string]string{"X-Gitea-Event": "push"},
		sign: func(h http.Header, body, secret string, _ time.Time) {
			h.Set("X-Gitea-Signature", hmacHex(secret, body))
		}},
	{provider: "forgejo", secret: "forgejo-secret-v", body: `{"ref":"refs/heads/main"}`,
		headers: map[string]string{"X-Forgejo-Event": "push"},
		sign: func(h http.Header, body, secret string, _ time.Time) {
			h.Set("X-Forgejo-Signature", hmacHex(secret, body))
		}},
	{provider: "bitbucket", secret: "bb-secret-value", body: `{"push":{"changes":[{"new":{"type":"branch","name":"main"}}]}}`,
		headers: map[string]string{"X-Event-Key": "repo:push"},
		sign: func(h http.Header, body, secret string, _ time.Time) {
			h.Set("X-Hub-Signature", "sha256="+hmacHex(secret, body))
		}},
	{provider: "alertmanager", token: true, secret: "am-bearer-token", body: `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Down"}}]}`,
		sign: func(h http.Header, _, secret string, _ time.Time) { h.Set("Authorization", "Bearer "+secret) }},
	{provider: "grafana", secret: "grafana-secret-v", body: `{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Down"}}]}`,
		timestamped: true,
		sign: func(h http.Header, body, secret string, ts time.Time) {
			unix := strconv.FormatInt(ts.Unix(), 10)
			h.Set("X-Grafana-Alerting-Signature-Timestamp", unix)
			h.Set("X-Grafana-Alerting-Signature", hmacHex(secret, unix+":"+body))
		}},
	{provider: "slack", secret: "slack-signing-secret", body: `{"type":"event_callback","event":{"type":"app_mention"}}`,
		timestamped: true,
		sign: func(h http.Header, body, secret string, ts time.Time) {
			unix := strconv.FormatInt(ts.Unix(), 10)
			h.Set("X-Slack-Request-Timestamp", unix)
			h.Set("X-Slack-Signature", "v0="+hmacHex(secret, "v0:"+unix+":"+body))
		}},
	{provider: "stripe", secret: "whsec_stripe_test_secret", body: `{"id":"evt_1","type":"invoice.paid"}`,
		timestamped: true,
		sign: func(h http.Header, body, secret string, ts time.Time) {
			unix := strconv.FormatInt(ts.Unix(), 10)
			h.Set("Stripe-Signature", "t="+unix+",v1="+hmacHex(secret, unix+"."+body))
		}},
	{provider: "standard", secret: "whsec_" + base64.StdEncoding.EncodeToString(standardKey), body: `{"type":"user.created"}`,
		timestamped: true,
		sign: func(h http.Header, body, secret string, ts time.Time) {
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			if err != nil {
				key = []byte(secret)
			}
			id, unix := "msg_1", strconv.FormatInt(ts.Unix(), 10)
			m := hmac.New(sha256.New, key)
			m.Write([]byte(id + "." + unix + "." + body))
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", unix)
			h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
		}},
	{provider: "generic", token: true, secret: "generic-token-value", body: `{"hello":"world"}`,
		sign: func(h http.Header, _, secret string, _ time.Time) { h.Set("X-Hookflow-Token", secret) }},
}

// post sends a delivery and returns the status and body.
func post(t *testing.T, url string, body string, h http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header = h
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProvidersVerify(t *testing.T) {
	files := map[string]string{}
	for _, pc := range providerCases {
		files[pc.provider+".yaml"] = fmt.Sprintf("on: {webhook: {path: %s, provider: %s, secret: \"${{ secrets.%s }}\"}}\nsteps: [{run: 'true'}]\n",
			pc.provider, pc.provider, strings.ToUpper(pc.provider))
		t.Setenv("HOOKFLOW_SECRET_"+strings.ToUpper(pc.provider), pc.secret)
	}
	a := startApp(t, files)
	for _, pc := range providerCases {
		t.Run(pc.provider, func(t *testing.T) {
			url := a.url + "/hooks/" + pc.provider
			headers := func(secret string, ts time.Time, body string) http.Header {
				h := http.Header{}
				for k, v := range pc.headers {
					h.Set(k, v)
				}
				pc.sign(h, body, secret, ts)
				return h
			}
			now := time.Now()
			code, body := post(t, url, pc.body, headers(pc.secret, now, pc.body))
			if code != http.StatusAccepted {
				t.Fatalf("signed delivery: %d %s", code, body)
			}
			var rc struct {
				Runs []struct{ ID string } `json:"runs"`
			}
			json.Unmarshal([]byte(body), &rc)
			if len(rc.Runs) != 1 {
				t.Fatalf("receipt %s", body)
			}
			expected := http.Header{}
			pc.sign(expected, pc.body+" ", pc.secret, now)
			rejections := map[string]http.Header{
				"wrong secret":   headers(pc.secret+"x", now, pc.body+" "),
				"missing header": func() http.Header { h := http.Header{}; h.Set("Content-Type", "application/json"); return h }(),
			}
			if !pc.token {
				rejections["tampered body"] = headers(pc.secret, now, pc.body)
			}
			if pc.timestamped {
				rejections["stale timestamp"] = headers(pc.secret, now.Add(-time.Hour), pc.body+" ")
				rejections["future timestamp"] = headers(pc.secret, now.Add(time.Hour), pc.body+" ")
			}
			for name, h := range rejections {
				code, answer := post(t, url, pc.body+" ", h)
				if code != http.StatusUnauthorized {
					t.Errorf("%s: %d %s, want 401", name, code, answer)
				}
				for _, values := range expected {
					for _, v := range values {
						if len(v) > 8 && strings.Contains(answer, v) {
							t.Errorf("%s: the answer shows the expected credential %q", name, v)
						}
					}
				}
				if strings.Contains(answer, pc.secret) {
					t.Errorf("%s: the answer shows the secret", name)
				}
			}
		})
	}
}

func TestWebhookAnswers(t *testing.T) {
	a := startApp(t, map[string]string{
		"deploy.yaml": "on: {webhook: {path: gh, provider: github, events: [push], branches: [main]}}\nsteps: [{run: 'true'}]\n",
		"docs.yaml":   "on: {webhook: {path: gh, provider: github, paths: ['docs/**']}}\nsteps: [{run: 'true'}]\n",
		"get.yaml":    "on: {webhook: {path: ping, methods: [GET]}}\nif: event.query.name == \"x\"\nsteps: [{run: 'true'}]\n",
		"sync.yaml":   "on: {webhook: {path: sync, respond: sync}}\nenv: {CODE: \"${{ event.body.code }}\"}\nsteps: [{run: 'exit $CODE'}]\n",
		"slow.yaml":   "on: {webhook: {path: slow, respond: sync, sync_timeout: 300ms}}\nsteps: [{run: 'sleep 5'}]\n",
	})
	gh := http.Header{"X-Github-Event": {"push"}}
	form := url.Values{"payload": {`{"ref":"refs/heads/main","commits":[{"modified":["src/a.go"]}]}`}}
	for _, tt := range []struct {
		name, method, path, body, contentType string
		headers                               http.Header
		code                                  int
		want                                  string
	}{
		{"push runs deploy, skips docs", "POST", "/hooks/gh", `{"ref":"refs/heads/main"}`, "", gh, 202,
			`"skipped":[{"workflow":"docs","reason":"paths: no changed file matches docs/**"}]`},
		{"nothing matched", "POST", "/hooks/gh", `{"ref":"refs/heads/dev"}`, "", gh, 200,
			`{"workflow":"deploy","reason":"branches: no match for dev"}`},
		{"github form payload", "POST", "/hooks/gh", form.Encode(), "application/x-www-form-urlencoded", gh, 202, `"workflow":"deploy"`},
		{"GET payload in the query", "GET", "/hooks/ping?name=x", "", "", nil, 202, `"workflow":"get"`},
		{"unknown path", "POST", "/hooks/nope", `{}`, "", nil, 404, `"error":"no workflow serves /hooks/nope"`},
		{"wrong method", "PUT", "/hooks/gh", `{}`, "", nil, 405, `not allowed`},
		{"malformed JSON", "POST", "/hooks/gh", `{"ref": `, "", gh, 400, `invalid JSON`},
		{"deeply nested JSON", "POST", "/hooks/gh", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "", gh, 400, `"error"`},
		{"invalid UTF-8", "POST", "/hooks/gh", "{\"ref\":\"refs/heads/\xff\xfe\"}", "", gh, 200, `branches: no match for`},
		{"sync run succeeded", "POST", "/hooks/sync", `{"code":0}`, "", nil, 200, `"status":"succeeded"`},
		{"sync run failed", "POST", "/hooks/sync", `{"code":3}`, "", nil, 500, `"status":"failed"`},
		{"sync run still running", "POST", "/hooks/slow", `{}`, "", nil, 202, `"workflow":"slow","revision"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, a.url+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			ct := tt.contentType
			if ct == "" && tt.body != "" {
				ct = "application/json"
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.want) {
				t.Errorf("%d %s\nwant %d containing %s", resp.StatusCode, body, tt.code, tt.want)
			}
		})
	}
}

func TestSlackURLVerification(t *testing.T) {
	t.Setenv("HOOKFLOW_SECRET_SLACK", "slack-signing-secret")
	a := startApp(t, map[string]string{"slack.yaml": "on: {webhook: {path: slack, provider: slack, secret: \"${{ secrets.SLACK }}\"}}\nsteps: [{run: 'true'}]\n"})
	body := `{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`
	h := http.Header{}
	providerCases[7].sign(h, body, "slack-signing-secret", time.Now())
	code, answer := post(t, a.url+"/hooks/slack", body, h)
	if code != 200 || answer != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`+"\n" {
		t.Errorf("challenge answer: %d %q", code, answer)
	}
	if code, _ := post(t, a.url+"/hooks/slack", body, http.Header{}); code != 401 {
		t.Errorf("unsigned challenge: %d, want 401", code)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	a := startApp(t, map[string]string{"any.yaml": "on: {webhook: {path: any}}\nsteps: [{run: 'true'}]\n"})
	// A declared 100 MB body is refused before it is read.
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /hooks/any HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 100<<20)
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 100 MB: %d", resp.StatusCode)
	}
	// A body with no declared length is cut at the limit.
	req, _ := http.NewRequest("POST", a.url+"/hooks/any", io.MultiReader(strings.NewReader(`{"a":"`), &zeros{n: 100 << 20}))
	req.ContentLength = -1
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed 100 MB: %d", r.StatusCode)
	}
}

// limits.rate from hookflow.yaml reaches the webhook endpoint: a second
// delivery within the burst of one is refused with 429 and Retry-After.
func TestWebhookRateLimitFromConfig(t *testing.T) {
	file := writeFile(t, filepath.Join(t.TempDir(), "hookflow.yaml"), "limits: {rate: {per_second: 0.5, burst: 1}, max_matching: 3}\n")
	loaded, err := config.Read(file, true, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Limits.Rate.PerSecond != 0.5 || loaded.Limits.Rate.Burst != 1 || loaded.Limits.MaxMatching != 3 {
		t.Fatalf("limits read as %+v", loaded.Limits)
	}
	a := startApp(t, map[string]string{"any.yaml": "on: {webhook: {path: any}}\nsteps: [{run: 'true'}]\n"},
		func(c *config.Config) { c.Limits = loaded.Limits })
	if code, body := post(t, a.url+"/hooks/any", `{}`, http.Header{}); code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", a.url+"/hooks/any", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second delivery: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// zeros is an endless-looking body of n bytes of 'a'.
type zeros struct{ n int }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	n := min(len(p), z.n)
	for i := range n {
		p[i] = 'a'
	}
	z.n -= n
	return n, nil
}

func TestWebhookManyHeaders(t *testing.T) {
	a := startApp(t, map[string]string{"any.yaml": "on: {webhook: {path: any}}\nsteps: [{run: 'true'}]\n"})
	var b bytes.Buffer
	b.WriteString("POST /hooks/any HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "X-H-%d: %s\r\n", i, strings.Repeat("v", 100))
	}
	b.WriteString("\r\n{}")
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go conn.Write(b.Bytes())
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("10,000 headers: %d", resp.StatusCode)
	}
	if code, _ := post(t, a.url+"/hooks/any", `{}`, http.Header{}); code != http.StatusAccepted {
		t.Errorf("the server no longer answers: %d", code)
	}
}

func TestRedeliveryIsDuplicate(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"deploy.yaml": "on: {webhook: {path: gh, provider: github, secret: s3cret-value}}\nsteps: [{run: 'true'}]\n"}
	keep := func(c *config.Config) { c.DataDir = dir }
	a := startApp(t, files, keep)
	body := `{"ref":"refs/heads/main"}`
	h := http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"delivery-42"}}
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex("s3cret-value", body))

	type answer struct {
		EventID   string `json:"event_id"`
		Duplicate bool   `json:"duplicate"`
		Runs      []struct{ ID string }
	}
	answers := make([]answer, 50)
	codes := make([]int, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b := post(t, a.url+"/hooks/gh", body, h.Clone())
			codes[i] = code
			json.Unmarshal([]byte(b), &answers[i])
		}()
	}
	wg.Wait()
	first := answers[0].EventID
	fresh := 0
	for i, ans := range answers {
		if ans.EventID != first || len(ans.Runs) != 1 || ans.Runs[0].ID != answers[0].Runs[0].ID {
			t.Fatalf("delivery %d answered %d %+v, want event %s", i, codes[i], ans, first)
		}
		if !ans.Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d deliveries were stored as new, want 1", fresh)
	}
	var runs struct{ Runs []api.RunView }
	a.call(t, "GET", "/api/v1/runs", nil, &runs)
	if len(runs.Runs) != 1 {
		t.Errorf("%d runs, want 1", len(runs.Runs))
	}

	a.stop()
	b := startApp(t, files, keep)
	code, again := post(t, b.url+"/hooks/gh", body, h.Clone())
	if code != http.StatusOK || !strings.Contains(again, `"duplicate":true`) || !strings.Contains(again, first) {
		t.Errorf("redelivery after restart: %d %s", code, again)
	}
}

func TestSlowClientIsCut(t *testing.T) {
	a := startApp(t, map[string]string{"any.yaml": "on: {webhook: {path: any}}\nsteps: [{run: 'true'}]\n"},
		func(c *config.Config) { c.Limits.ReadHeaderTimeout = workflows.Duration(300 * time.Millisecond) })
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /hooks/any HTTP/1.1\r\nHost: x\r\n"))
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 1)
	if _, err := conn.Read(buf); err == nil {
		// Go answers a header timeout with nothing or a 408 before closing.
		rest, _ := io.ReadAll(conn)
		if !strings.Contains(string(buf)+string(rest), "408") && len(rest) > 0 {
			t.Errorf("unexpected answer to a stalled header: %q", string(buf)+string(rest))
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the server kept a stalled connection open for a minute")
	}
}

// TestWebhookKeepsOutOfRangeNumbers delivers valid JSON whose numbers float64
// cannot hold. It is accepted; those numbers reach the run, the stored event
// and a replay as their text, while the payload's ordinary numbers still
// compare as numbers in `if:`.
func TestWebhookKeepsOutOfRangeNumbers(t *testing.T) {
	a := startApp(t, map[string]string{"numbers.yaml": `
on: {webhook: {path: numbers, provider: generic}}
if: event.body.count > 3 && event.body.big == "1e999999"
env: {BIG: "${{ event.body.big }}", COUNT: "${{ event.body.count }}"}
steps:
  - id: show
    run: printf 'big=%s\ncount=%s\n' "$BIG" "$COUNT" >> "$HOOKFLOW_OUTPUT"
`})
	huge := "7" + strings.Repeat("1", 499999)
	deliver := func(t *testing.T, count int) (int, workflows.Receipt) {
		t.Helper()
		code, body := post(t, a.url+"/hooks/numbers", fmt.Sprintf(`{"big": 1e999999, "huge": %s, "count": %d}`, huge, count), http.Header{})
		var rc workflows.Receipt
		if err := json.Unmarshal([]byte(body), &rc); err != nil {
			t.Fatalf("%d %.300s: %v", code, body, err)
		}
		return code, rc
	}

	code, rc := deliver(t, 5)
	if code != http.StatusAccepted || len(rc.Runs) != 1 {
		t.Fatalf("count 5: %d %+v, want 202 and one run", code, rc)
	}
	run := a.waitRun(t, rc.Runs[0].ID)
	if run.Status != workflows.StatusSucceeded || len(run.Steps) != 1 {
		t.Fatalf("run %s: %s (%s)", run.ID, run.Status, run.Reason)
	}
	if out := run.Steps[0].Outputs; out["big"] != "1e999999" || out["count"] != "5" {
		t.Errorf("step outputs %v, want big=1e999999 count=5", out)
	}

	// The stored event holds the numbers as text, in full.
	var stored struct {
		Data struct {
			Body map[string]any `json:"body"`
		} `json:"data"`
	}
	if code := a.call(t, "GET", "/api/v1/events/"+rc.EventID, nil, &stored); code != http.StatusOK {
		t.Fatalf("get event: %d", code)
	}
	if b := stored.Data.Body; b["big"] != "1e999999" || b["huge"] != huge || b["count"] != 5.0 {
		t.Errorf("stored body: big %v, huge of %d characters, count %v", b["big"], len(fmt.Sprint(b["huge"])), b["count"])
	}
	var replayed workflows.Receipt
	if code := a.call(t, "POST", "/api/v1/events/"+rc.EventID+"/replay", nil, &replayed); code != http.StatusAccepted || len(replayed.Runs) != 1 {
		t.Fatalf("replay: %d %+v, want 202 and one run", code, replayed)
	}
	if run := a.waitRun(t, replayed.Runs[0].ID); run.Status != workflows.StatusSucceeded || run.Steps[0].Outputs["big"] != "1e999999" {
		t.Errorf("replayed run: %s, outputs %v", run.Status, run.Steps[0].Outputs)
	}

	// An ordinary number below the bar still skips the workflow.
	code, rc = deliver(t, 2)
	if code != http.StatusOK || len(rc.Runs) != 0 || len(rc.Skipped) != 1 {
		t.Errorf("count 2: %d %+v, want 200 and the workflow skipped", code, rc)
	}
}
