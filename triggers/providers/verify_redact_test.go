package providers

import (
	"maps"
	"net/http"
	"net/url"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

func TestRedactHeaders(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{name: "nil", in: nil, want: nil},
		{
			name: "credentials",
			in: map[string]string{
				"authorization": "Bearer t0ken", "proxy-authorization": "Basic dTpw",
				"x-gitlab-token": "t0ken", "x-hookflow-token": "t0ken",
			},
			want: map[string]string{
				"authorization": Redacted, "proxy-authorization": Redacted,
				"x-gitlab-token": Redacted, "x-hookflow-token": Redacted,
			},
		},
		{
			name: "names in any case",
			in:   map[string]string{"Authorization": "Bearer t0ken", "X-Gitlab-Token": "t0ken"},
			want: map[string]string{"Authorization": Redacted, "X-Gitlab-Token": Redacted},
		},
		{
			name: "signatures and other headers stay",
			in: map[string]string{
				"x-hub-signature-256": "sha256=00", "x-github-event": "push", "content-type": "application/json",
			},
			want: map[string]string{
				"x-hub-signature-256": "sha256=00", "x-github-event": "push", "content-type": "application/json",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			RedactHeaders(tt.in)
			if !maps.Equal(tt.in, tt.want) {
				t.Errorf("RedactHeaders = %v, want %v", tt.in, tt.want)
			}
		})
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{name: "nil", in: nil, want: nil},
		{name: "token", in: map[string]string{"token": "t0ken", "env": "prod"}, want: map[string]string{"token": Redacted, "env": "prod"}},
		{name: "token in upper case", in: map[string]string{"TOKEN": "t0ken"}, want: map[string]string{"TOKEN": Redacted}},
		{name: "similar names stay", in: map[string]string{"token_id": "7", "tokens": "3"}, want: map[string]string{"token_id": "7", "tokens": "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			RedactQuery(tt.in)
			if !maps.Equal(tt.in, tt.want) {
				t.Errorf("RedactQuery = %v, want %v", tt.in, tt.want)
			}
		})
	}
}

// TestRedactNormalizedEvent checks redaction on an event as Normalize builds
// it, with the header names an HTTP request really has.
func TestRedactNormalizedEvent(t *testing.T) {
	r := &Request{
		Method: http.MethodPost,
		Headers: http.Header{
			"Authorization":    {"Bearer t0ken"},
			"X-Hookflow-Token": {"t0ken"},
			"X-Event":          {"deploy"},
		},
		Query: url.Values{"token": {"t0ken"}, "env": {"prod"}},
		Body:  []byte(`{}`), ContentType: "application/json",
	}
	var ev workflows.Event
	if err := Normalize("generic", r, Options{EventHeader: "X-Event"}, &ev); err != nil {
		t.Fatal(err)
	}
	RedactHeaders(ev.Headers)
	RedactQuery(ev.Query)
	for k, v := range ev.Headers {
		if v == "Bearer t0ken" || v == "t0ken" {
			t.Errorf("header %s kept its credential", k)
		}
	}
	if ev.Query["token"] != Redacted || ev.Query["env"] != "prod" {
		t.Errorf("query = %v", ev.Query)
	}
	if ev.Headers["x-event"] != "deploy" {
		t.Errorf("headers = %v", ev.Headers)
	}
}
