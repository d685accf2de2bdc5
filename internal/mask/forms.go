package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf16"
)

// MinLength is the length of the shortest text a Masker hides. Hiding one to
// three characters would shred every line (a password "p" would mask every
// letter p) while hiding nothing worth hiding.
const MinLength = 4

// minFragment is the shortest piece of an encoding that is hidden on its
// own: a base64 encoding trimmed to the characters that do not depend on the
// bytes around the value, or one line of an encoding wrapped into lines.
// Shorter pieces carry at most a few bytes of the secret, and would match
// ordinary text.
const minFragment = 8

// Line widths at which tools wrap encodings: base64 (coreutils, MIME) at 76,
// PEM and openssl at 64, xxd -p at 60 hex digits.
const (
	base64Width    = 76
	pemWidth       = 64
	hexDigitsWidth = 60
)

// forms returns the texts that stand for the secret value v in output. Each
// piece of v — v itself, v without surrounding blanks, and each line of a
// value of several lines (trimmed) — is hidden as written, URL-encoded (query,
// path, and with %20 for a space as jq's @uri and JavaScript's
// encodeURIComponent write it), inside a JSON string (with and without HTML
// escapes, with non-ASCII escaped, with "/" escaped), in lower- and upper-case
// hex, and in standard and URL-safe base64, padded and not. Since base64
// encodes three bytes at a time, a value inside a longer encoded text comes
// out in one of three ways depending on its offset: each is hidden, trimmed
// to the characters that depend on the value alone. Encodings wrapped into
// lines by common tools are hidden line by line. Texts shorter than MinLength
// are left out.
func forms(v string) []string {
	var out []string
	add := func(shortest int, texts ...string) {
		for _, t := range texts {
			if len(t) >= shortest {
				out = append(out, t)
			}
		}
	}
	for _, p := range pieces(v) {
		add(MinLength, p)
		q := url.QueryEscape(p)
		// A URL's user name or password escapes @ and : as well.
		add(MinLength, q, url.PathEscape(p), strings.ReplaceAll(q, "+", "%20"), url.User(p).String())
		add(MinLength, jsonForms(p)...)

		h := hex.EncodeToString([]byte(p))
		add(MinLength, h, strings.ToUpper(h))
		add(minFragment, wrap(h, hexDigitsWidth)...)

		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			padded := enc.EncodeToString([]byte(p))
			add(MinLength, padded, strings.TrimRight(padded, "="))
			add(minFragment, shifted(enc.WithPadding(base64.NoPadding), p)...)
		}
		std := base64.StdEncoding.EncodeToString([]byte(p))
		add(minFragment, wrap(std, base64Width)...)
		add(minFragment, wrap(std, pemWidth)...)
	}
	return out
}

// pieces are the parts of v hidden each on its own: v, v trimmed and, for a
// value of several lines, each line trimmed. Lines shorter than MinLength
// (blank lines, a closing brace) are left out.
func pieces(v string) []string {
	out := []string{v}
	if t := strings.TrimSpace(v); t != v {
		out = append(out, t)
	}
	if !strings.Contains(v, "\n") {
		return out
	}
	for line := range strings.SplitSeq(v, "\n") {
		if line = strings.TrimSpace(line); len(line) >= MinLength {
			out = append(out, line)
		}
	}
	return out
}

// jsonForms are the ways JSON encoders write p inside a string, without the
// quotes: Go's (HTML characters escaped), without HTML escapes (jq,
// JavaScript), with every non-ASCII character escaped (Python, jq -a), and
// with "/" escaped (PHP).
func jsonForms(p string) []string {
	htmlSafe, _ := json.Marshal(p) // a string always encodes
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
	plain := strings.TrimSuffix(b.String(), "\n")
	unquote := func(s string) string { return s[1 : len(s)-1] }
	return []string{
		unquote(string(htmlSafe)),
		unquote(plain),
		asciiOnly(unquote(plain)),
		strings.ReplaceAll(unquote(plain), "/", `\/`),
	}
}

// asciiOnly escapes every non-ASCII character of a JSON string's content as
// \uXXXX, in UTF-16 as JSON wants.
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// shifted returns p's base64 forms as they appear inside the encoding of a
// longer text, where p starts 0, 1 or 2 bytes past a group of three: the
// encoding of p after that many bytes, trimmed to the characters that encode
// p's bits only. enc must not pad.
func shifted(enc *base64.Encoding, p string) []string {
	var out []string
	for offset := range 3 {
		text := make([]byte, offset, offset+len(p))
		encoded := enc.EncodeToString(append(text, p...))
		// Character i encodes bits 6i to 6i+5; p's bits are 8·offset to
		// 8·(offset+len(p))-1.
		first := (8*offset + 5) / 6
		end := 8 * (offset + len(p)) / 6
		if end > first {
			out = append(out, encoded[first:end])
		}
	}
	return out
}

// wrap returns the lines of s wrapped at width, or nothing when s fits on
// one line.
func wrap(s string, width int) []string {
	if len(s) <= width {
		return nil
	}
	var lines []string
	for len(s) > width {
		lines = append(lines, s[:width])
		s = s[width:]
	}
	return append(lines, s)
}
