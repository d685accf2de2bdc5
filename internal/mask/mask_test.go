package mask

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// pem is a secret of several lines holding the characters that encodings
// change: @ / + = & " and spaces.
const pem = "-----BEGIN TEST KEY-----\n" +
	"MIIEow+IBAAKCAQEA1b/c@d&e=f\"g h\n" +
	"q83Fv9sWx7Lp0Zk3Yt/u+Rn2Mabc==\n" +
	"-----END TEST KEY-----"

// onePiece is a secret of one line with the same characters.
const onePiece = `p@ss/w+rd=1&2 "quoted" tail!`

// longToken is a secret of one line whose base64 is wrapped by base64(1).
const longToken = "ghp_" + "Zm9vYmFyYmF6cXV4" + "/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6A7B8C9D0E1F2+=&@"

// escapeJSON is how a JSON encoder writes s inside a string.
func escapeJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[1 : len(b)-1])
}

// visible fails the test if masked shows any run of width characters of s.
func visible(t *testing.T, masked, s string, width int) {
	t.Helper()
	for i := 0; i+width <= len(s); i++ {
		if w := s[i : i+width]; strings.Contains(masked, w) {
			t.Errorf("%q of the secret (%q) shows in\n%s", w, s, masked)
			return
		}
	}
}

// formCase is text a step printed; hidden is the secret's form in it, of
// which no run of 8 characters may show once masked.
type formCase struct{ name, text, hidden string }

func TestMaskForms(t *testing.T) {
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	for _, secret := range []string{pem, onePiece, longToken} {
		m := New([]string{secret})
		tests := []formCase{
			{"as written", "a " + secret + " b", secret},
			{"query escaped", "u?x=" + url.QueryEscape(secret) + "&y=1", url.QueryEscape(secret)},
			{"path escaped", "/a/" + url.PathEscape(secret) + "/b", url.PathEscape(secret)},
			{"escaped as a URL user name", "https://" + url.User(secret).String() + "@example.com/", url.User(secret).String()},
			{"uri component", "x=" + strings.ReplaceAll(url.QueryEscape(secret), "+", "%20"), strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")},
			{"json", `{"k":"` + escapeJSON(t, secret) + `"}`, escapeJSON(t, secret)},
			{"json without html escapes", `{"k":"` + strings.ReplaceAll(escapeJSON(t, secret), `\u0026`, "&") + `"}`, strings.ReplaceAll(escapeJSON(t, secret), `\u0026`, "&")},
			{"hex", "h " + hex.EncodeToString([]byte(secret)), hex.EncodeToString([]byte(secret))},
			{"upper hex", "H " + strings.ToUpper(hex.EncodeToString([]byte(secret))), strings.ToUpper(hex.EncodeToString([]byte(secret)))},
			{"base64", "b " + b64(base64.StdEncoding, secret), b64(base64.StdEncoding, secret)},
			{"base64 raw", "b " + b64(base64.RawStdEncoding, secret) + ".", b64(base64.RawStdEncoding, secret)},
			{"base64 url", "b " + b64(base64.URLEncoding, secret), b64(base64.URLEncoding, secret)},
			{"base64 url raw", "b " + b64(base64.RawURLEncoding, secret) + ".", b64(base64.RawURLEncoding, secret)},
		}
		// Inside a longer encoded text the value starts 0, 1 or 2 bytes past a
		// group of three; the characters at either edge of it also encode the
		// bytes around it, and may show.
		for _, c := range []struct {
			name           string
			enc            *base64.Encoding
			prefix, suffix string
		}{
			{"base64 of it with a newline", base64.StdEncoding, "", "\n"},
			{"base64 at offset 0", base64.StdEncoding, "abc", "xyz"},
			{"base64 at offset 1", base64.StdEncoding, "a", "xyz"},
			{"base64 at offset 2", base64.StdEncoding, "ab", "xyz"},
			{"url-safe base64 at offset 1", base64.URLEncoding, "a", "x"},
			{"url-safe base64 at offset 2", base64.RawURLEncoding, "ab", ""},
		} {
			text := b64(c.enc, c.prefix+secret+c.suffix)
			first, end := (8*len(c.prefix)+5)/6, 8*(len(c.prefix)+len(secret))/6
			tests = append(tests, formCase{c.name, text, text[first:end]})
		}
		if strings.Contains(secret, "\n") {
			lines := strings.Split(secret, "\n")
			tests = append(tests, formCase{
				"one line of it", "key line: " + lines[1] + " (end)", lines[1]})
		}
		if len(secret) > 57 {
			wrapped := b64(base64.StdEncoding, secret)
			var folded []string
			for len(wrapped) > 76 {
				folded, wrapped = append(folded, wrapped[:76]), wrapped[76:]
			}
			tests = append(tests, formCase{
				"base64 wrapped at 76", strings.Join(append(folded, wrapped), "\n"), b64(base64.StdEncoding, secret)})
		}
		for _, tt := range tests {
			name := fmt.Sprintf("%d bytes/%s", len(secret), tt.name)
			t.Run(name, func(t *testing.T) {
				var masked []string
				// Logs are masked line by line.
				for line := range strings.SplitSeq(tt.text, "\n") {
					masked = append(masked, m.Mask(line))
				}
				got := strings.Join(masked, "\n")
				if !strings.Contains(got, Hidden) {
					t.Errorf("nothing masked in %q", got)
				}
				visible(t, got, strings.ReplaceAll(tt.hidden, "\n", ""), 8)
				for line := range strings.SplitSeq(secret, "\n") {
					if line = strings.TrimSpace(line); len(line) >= 8 {
						visible(t, got, line, 8)
					}
				}
			})
		}
	}
}

func TestMaskKeepsText(t *testing.T) {
	m := New([]string{"hunter2-long", "ab", ""})
	for _, s := range []string{"", "a", "abc", "no secret here, ab", "hunter2-lon g"} {
		if got := m.Mask(s); got != s {
			t.Errorf("Mask(%q) = %q, want it unchanged", s, got)
		}
	}
	var none *Masker
	if got := none.Mask("hunter2-long"); got != "hunter2-long" {
		t.Errorf("nil Masker changed the text: %q", got)
	}
}

func TestMaskShortFragments(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		text    string
		want    string
	}{
		// A password "p", as a URL mis-split at a secret's '@' yields, would
		// once mask every letter p.
		{"one letter", []string{"p"}, "happy path to https://pp.example", "happy path to https://pp.example"},
		{"three characters", []string{"abc"}, "abc abcabc", "abc abcabc"},
		{"four characters", []string{"abcd"}, "x abcd y", "x *** y"},
		{"short lines of a long secret", []string{"first-line-of-it\n}\nab\n  \nlast-line-here"},
			"} ab first-line-of-it last-line-here", "} ab *** ***"},
		// base64 of "abcd" at an offset is four or five characters: too
		// few to hide without hiding ordinary words.
		{"short base64 pieces", []string{"abcd"}, "YmNk JjZA ZGVm", "YmNk JjZA ZGVm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.secrets).Mask(tt.text); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestMaskLongestAndOverlapping(t *testing.T) {
	m := New([]string{"token-123", "token-123-extended", "abcdef12", "ef12ghij"})
	tests := map[string]string{
		"a token-123-extended b":     "a *** b",
		"a token-123 b":              "a *** b",
		"abcdef12ghij":               "***",
		"abcdef12 ef12ghij":          "*** ***",
		"token-123token-123":         "******",
		"xx token-123-extendedtoken": "xx ***token",
	}
	for text, want := range tests {
		if got := m.Mask(text); got != want {
			t.Errorf("Mask(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestCut(t *testing.T) {
	m := New([]string{"s3cret-value"})
	text := "0123456789s3cret-value0123456789"
	tests := []struct {
		name string
		text string
		at   int
		want int
	}{
		{"before the secret", text, 5, 5},
		{"at its start", text, 10, 10},
		{"inside it: back to its start", text, 15, 10},
		{"at its end", text, 22, 22},
		{"inside it at the start of the text: after it", "s3cret-value0123", 4, 12},
		{"no secret", "0123456789", 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Cut(tt.text, tt.at); got != tt.want {
				t.Errorf("Cut(%q, %d) = %d, want %d", tt.text, tt.at, got, tt.want)
			}
		})
	}
	if got := New(nil).Cut(text, 15); got != 15 {
		t.Errorf("Cut without secrets = %d, want 15", got)
	}
	if m.Longest() < len(hex.EncodeToString([]byte("s3cret-value"))) {
		t.Errorf("Longest() = %d, shorter than the hex form", m.Longest())
	}
}

func TestMaskValue(t *testing.T) {
	m := New([]string{"s3cret-value", "12345678"})
	in := map[string]any{
		"plain":  "a s3cret-value b",
		"n":      12345678.0,
		"other":  42.0,
		"ok":     true,
		"none":   nil,
		"list":   []any{"s3cret-value", 1.0, map[string]any{"s3cret-value": "x"}},
		"header": map[string]string{"authorization": "Bearer s3cret-value"},
		"files":  []string{"a", "s3cret-value.txt"},
	}
	want := map[string]any{
		"plain":  "a *** b",
		"n":      "***",
		"other":  42.0,
		"ok":     true,
		"none":   nil,
		"list":   []any{"***", 1.0, map[string]any{"***": "x"}},
		"header": map[string]string{"authorization": "Bearer ***"},
		"files":  []string{"a", "***.txt"},
	}
	got := m.MaskValue(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MaskValue = %#v\nwant %#v", got, want)
	}
	if in["plain"] != "a s3cret-value b" || in["list"].([]any)[0] != "s3cret-value" {
		t.Errorf("MaskValue changed its argument: %v", in)
	}
	if got := m.MaskValue(map[string]any(nil)); got.(map[string]any) != nil {
		t.Errorf("MaskValue(nil map) = %#v", got)
	}
}

func TestURL(t *testing.T) {
	secret := "p@127.0.0.1:9/x-s3cret"
	m := New([]string{secret})
	tests := []struct{ url, want string }{
		// The secret's '@' and '/' would make the host 127.0.0.1:9 and the
		// rest of the secret part of the path.
		{"https://user:" + secret + "@git.example/repo.git", "https://***@git.example/repo.git"},
		{"https://user:" + url.QueryEscape(secret) + "@git.example/repo.git", "https://***@git.example/repo.git"},
		{"https://tok3n-not-known@git.example/repo.git", "https://***@git.example/repo.git"},
		{"https://u:p@git.example/r.git", "https://***@git.example/r.git"},
		{"git@git.example:owner/repo.git", "git@git.example:owner/repo.git"},
		{"ssh://deploy@git.example:2222/o/r.git", "ssh://deploy@git.example:2222/o/r.git"},
		{"/srv/git/r.git", "/srv/git/r.git"},
		{"https://git.example/repo.git", "https://git.example/repo.git"},
	}
	for _, tt := range tests {
		if got := m.URL(tt.url); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestWith(t *testing.T) {
	m := New([]string{"run-secret-1"}).With("url-password", "p")
	if got := m.Mask("run-secret-1 url-password p"); got != "*** *** p" {
		t.Errorf("Mask = %q", got)
	}
	var none *Masker
	if got := none.With("url-password").Mask("url-password"); got != Hidden {
		t.Errorf("nil Masker With: %q", got)
	}
}

// BenchmarkMaskLine masks a 64 KiB line, the longest a log keeps, holding
// ten secrets among ordinary text, with a Masker of ten secrets (one of them
// a key of several lines).
func BenchmarkMaskLine(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /+=-_.:"
	word := func(n int) string {
		w := make([]byte, n)
		for i := range w {
			w[i] = letters[r.IntN(len(letters))]
		}
		return string(w)
	}
	secrets := []string{pem}
	for range 9 {
		secrets = append(secrets, word(24))
	}
	m := New(secrets)
	var line strings.Builder
	for line.Len() < 64<<10 {
		line.WriteString(word(6500))
		line.WriteString(secrets[1+r.IntN(9)])
	}
	text := line.String()[:64<<10]
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		m.Mask(text)
	}
}
