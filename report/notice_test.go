package report

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/smtptest"
)

func failure() *Message {
	return &Message{State: "failure", Workflow: "deploy", RunID: "R1", RunStatus: "failed",
		Reason: "step migrate failed: exit code 3 <script>&", FailedStep: "build / migrate",
		RunURL: "https://hookflow.example.com/ui/runs/R1", Run: map[string]any{"id": "R1", "status": "failed"}}
}

// TestSlackRequest checks the incoming webhook's JSON: a fallback text and
// blocks with the link, reason and failing step, escaped for mrkdwn.
func TestSlackRequest(t *testing.T) {
	srv, got := recorder(t, http.StatusOK, "ok")
	m := failure()
	m.URL = srv.URL + "/services/T0/B0/secret"
	req, err := SlackRequest(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := Send(srv.Client(), req); err != nil {
		t.Fatal(err)
	}
	body := got()[0].Body
	want := map[string]any{
		"text": "❌ deploy failed: https://hookflow.example.com/ui/runs/R1",
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
				"text": "*❌ deploy failed*  <https://hookflow.example.com/ui/runs/R1|run R1>"}},
			map[string]any{"type": "section", "fields": []any{
				map[string]any{"type": "mrkdwn", "text": "*Reason*\nstep migrate failed: exit code 3 &lt;script&gt;&amp;"},
				map[string]any{"type": "mrkdwn", "text": "*Failed step*\nbuild / migrate"},
			}},
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %v\nwant %v", body, want)
	}
}

// TestWebhookRequest checks the generic notice and its headers.
func TestWebhookRequest(t *testing.T) {
	srv, got := recorder(t, http.StatusNoContent, "")
	m := failure()
	m.URL, m.Headers = srv.URL+"/notice", map[string]string{"Authorization": "Bearer t0k", "X-Team": "ops"}
	req, err := WebhookRequest(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := Send(srv.Client(), req); err != nil {
		t.Fatal(err)
	}
	r := got()[0]
	if r.Header.Get("Authorization") != "Bearer t0k" || r.Header.Get("X-Team") != "ops" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	want := map[string]any{"kind": "hookflow.notice", "state": "failure", "workflow": "deploy",
		"run_url": "https://hookflow.example.com/ui/runs/R1", "reason": "step migrate failed: exit code 3 <script>&",
		"failed_step": "build / migrate", "run": map[string]any{"id": "R1", "status": "failed"}}
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("body %v\nwant %v", r.Body, want)
	}
	for _, h := range []map[string]string{{"Content-Type": "text/plain"}, {"host": "evil"}, {"X-A": "b\r\nX-B: c"}} {
		m.Headers = h
		if _, err := WebhookRequest(context.Background(), m); err == nil {
			t.Errorf("headers %q were taken", h)
		}
	}
}

// TestSendMail mails a failure through a real SMTP server, over STARTTLS
// with a login, and reads it back.
func TestSendMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "hookflow", Password: "pw-9b1"})
	host, port := srv.Addr()
	cfg := SMTP{Host: host, Port: port, Username: "hookflow", Password: "pw-9b1", From: "hookflow@example.com",
		StartTLS: true, RootCAs: srv.CertPool()}
	m := failure()
	m.To = []string{"ops@example.com", "dev@example.com"}
	if err := SendMail(context.Background(), cfg, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Mails()
	if len(got) != 1 {
		t.Fatalf("%d mails", len(got))
	}
	sent := got[0]
	if !sent.TLS || sent.User != "hookflow" || sent.From != "hookflow@example.com" ||
		!reflect.DeepEqual(sent.To, []string{"ops@example.com", "dev@example.com"}) {
		t.Errorf("envelope %+v", sent)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(sent.Data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "[hookflow] deploy failed" || msg.Header.Get("From") != "hookflow@example.com" ||
		msg.Header.Get("To") != "ops@example.com, dev@example.com" || msg.Header.Get("Message-Id") == "" {
		t.Errorf("headers %v (subject %q)", msg.Header, subject)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	for _, want := range []string{"deploy failed.", "Reason: step migrate failed: exit code 3 <script>&",
		"Failed step: build / migrate", "Run: https://hookflow.example.com/ui/runs/R1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

// TestSendMailRefuses covers what must not be sent, and how failures are
// classified.
func TestSendMailRefuses(t *testing.T) {
	t.Run("no STARTTLS offered", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{NoStartTLS: true})
		host, port := srv.Addr()
		err := SendMail(context.Background(), SMTP{Host: host, Port: port, From: "h@example.com", StartTLS: true}, withTo(failure()))
		if !IsPermanent(err) || len(srv.Mails()) != 0 {
			t.Errorf("err %v, %d mails: want a permanent error and nothing sent", err, len(srv.Mails()))
		}
	})
	t.Run("header injection", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		host, port := srv.Addr()
		m := withTo(failure())
		m.Subject = "hi\r\nBcc: everyone@example.com"
		err := SendMail(context.Background(), SMTP{Host: host, Port: port, From: "h@example.com", StartTLS: true, RootCAs: srv.CertPool()}, m)
		if !IsPermanent(err) || len(srv.Mails()) != 0 {
			t.Errorf("err %v, %d mails", err, len(srv.Mails()))
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{})
		host, port := srv.Addr()
		err := SendMail(context.Background(), SMTP{Host: host, Port: port, From: "h@example.com", StartTLS: true}, withTo(failure()))
		if err == nil || len(srv.Mails()) != 0 {
			t.Errorf("err %v, %d mails", err, len(srv.Mails()))
		}
	})
	for _, tt := range []struct {
		reply     string
		permanent bool
	}{{"451 4.3.0 try again later", false}, {"550 5.1.1 no such user", true}} {
		t.Run(tt.reply, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{RcptReply: tt.reply})
			host, port := srv.Addr()
			err := SendMail(context.Background(), SMTP{Host: host, Port: port, From: "h@example.com", StartTLS: true, RootCAs: srv.CertPool()}, withTo(failure()))
			var e *Error
			if !errors.As(err, &e) || e.Permanent != tt.permanent {
				t.Errorf("err %v, want permanent %t", err, tt.permanent)
			}
		})
	}
}

func withTo(m *Message) *Message {
	m.To = []string{"ops@example.com"}
	return m
}
