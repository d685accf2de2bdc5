// Package mask hides a run's secret values in what hookflow stores and shows
// of the run: log lines, step outputs, errors and reasons.
//
// One Masker is built per run from the values of the secrets the run reads,
// and every part that writes about the run uses it, so that they all hide the
// same texts. It imports no other hookflow package: the runner and the
// actions both use it.
package mask

import (
	"encoding/json"
	"iter"
	"net/url"
	"slices"
	"strings"
)

// Hidden replaces every masked text.
const Hidden = "***"

// Masker replaces secret values, and the forms they take when a step encodes
// them (see forms), by Hidden. It is immutable once built and safe for use by
// many goroutines. A nil *Masker masks nothing.
type Masker struct {
	values []string
	// forms are the texts to hide, longest first.
	forms []string
	// byHead lists the forms by their first four bytes (every form has at
	// least MinLength), longest first.
	byHead map[uint32][]int32
	// pairs has a bit for the first two bytes of each form, so that most
	// positions of a text are passed over without a map lookup.
	pairs [1 << 16 / 64]uint64
}

// New returns a Masker of the given secret values. Values shorter than
// MinLength are ignored (as are lines and encodings that short).
func New(values []string) *Masker {
	m := &Masker{values: slices.Clone(values), byHead: map[uint32][]int32{}}
	seen := map[string]bool{}
	for _, v := range values {
		for _, f := range forms(v) {
			if !seen[f] {
				seen[f] = true
				m.forms = append(m.forms, f)
			}
		}
	}
	// Longest first, so that a secret containing another is found whole;
	// then by text, so that the order does not depend on the map above.
	slices.SortFunc(m.forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	for i, f := range m.forms {
		k := uint16(f[0])<<8 | uint16(f[1])
		m.pairs[k/64] |= 1 << (k % 64)
		m.byHead[head(f)] = append(m.byHead[head(f)], int32(i))
	}
	return m
}

// With returns a Masker of m's values and values, for an action that holds
// credentials of its own, such as a password written into a URL.
func (m *Masker) With(values ...string) *Masker {
	if len(values) == 0 {
		return m
	}
	if m == nil {
		return New(values)
	}
	return New(append(slices.Clone(m.values), values...))
}

// Longest is the length of the longest text m hides: a stream must hold back
// one byte less than that before cutting a line, to be sure of finding every
// secret in it whole.
func (m *Masker) Longest() int {
	if m == nil || len(m.forms) == 0 {
		return 0
	}
	return len(m.forms[0])
}

// Mask returns s with every secret form in it replaced by Hidden. Forms that
// overlap are hidden together, by one Hidden, so that no part of either shows.
func (m *Masker) Mask(s string) string {
	if m == nil || len(m.forms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for start, end := range m.spans(s) {
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		b.WriteString(Hidden)
		last = end
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Cut returns where to cut s, near at, so that Mask of each part hides all
// that Mask of s would: at itself when no secret form found in s spans it,
// else the start of those forms or, when they begin s, their end.
func (m *Masker) Cut(s string, at int) int {
	if m == nil {
		return at
	}
	for start, end := range m.spans(s) {
		if start >= at {
			break
		}
		if at < end {
			if start > 0 {
				return start
			}
			return end
		}
	}
	return at
}

// MaskValue returns v, a step output, with Mask applied to every string in
// it: map keys and values and list items, at any depth. A number or another
// value whose JSON text holds a secret becomes that text, masked. v itself is
// not changed: what differs is copied.
func (m *Masker) MaskValue(v any) any {
	if m == nil || len(m.forms) == 0 {
		return v
	}
	switch v := v.(type) {
	case nil, bool:
		return v
	case string:
		return m.Mask(v)
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[m.Mask(k)] = m.MaskValue(x)
		}
		return out
	case []any:
		if v == nil {
			return v
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = m.MaskValue(x)
		}
		return out
	case map[string]string:
		if v == nil {
			return v
		}
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[m.Mask(k)] = m.Mask(x)
		}
		return out
	case []string:
		if v == nil {
			return v
		}
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = m.Mask(x)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	if masked := m.Mask(string(b)); masked != string(b) {
		return masked
	}
	return v
}

// URL returns raw as log lines and errors show a URL: secrets masked first,
// so that a secret holding '@' or '/' cannot move where the user information
// ends, then the user information of an http(s) URL, often a token, shown as
// Hidden whether or not it is a known secret.
func (m *Masker) URL(raw string) string {
	raw = m.Mask(raw)
	u := UserinfoURL(raw)
	if u == nil {
		return raw
	}
	u.User = nil
	// Written by hand: url.User(Hidden) would be percent-encoded.
	return u.Scheme + "://" + Hidden + "@" + strings.TrimPrefix(u.String(), u.Scheme+"://")
}

// WithURL is m also hiding the credential written into the http(s) URL raw:
// its password, or else its username, since a token may stand there.
func (m *Masker) WithURL(raw string) *Masker {
	u := UserinfoURL(raw)
	if u == nil {
		return m
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return m.With(pw)
	}
	if name := u.User.Username(); name != "" {
		return m.With(name)
	}
	return m
}

// UserinfoURL is raw parsed when it is an http(s) URL with user information,
// else nil.
func UserinfoURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	return u
}

// spans yields the parts of s to hide, in order: the union of every
// occurrence of every form, as start and end offsets.
func (m *Masker) spans(s string) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		start, end := 0, -1 // end < 0: no span open
		for i := 0; i+MinLength <= len(s); i++ {
			n := m.match(s[i:])
			if n == 0 {
				continue
			}
			if i < end {
				end = max(end, i+n)
				continue
			}
			if end >= 0 && !yield(start, end) {
				return
			}
			start, end = i, i+n
		}
		if end >= 0 {
			yield(start, end)
		}
	}
}

// match returns the length of the longest form s begins with, or 0. s has at
// least MinLength bytes.
func (m *Masker) match(s string) int {
	k := uint16(s[0])<<8 | uint16(s[1])
	if m.pairs[k/64]&(1<<(k%64)) == 0 {
		return 0
	}
	for _, i := range m.byHead[head(s)] {
		if f := m.forms[i]; strings.HasPrefix(s, f) {
			return len(f)
		}
	}
	return 0
}

// head packs the first four bytes of s.
func head(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
