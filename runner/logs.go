package runner

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/internal/mask"
)

// Log streams.
const (
	Stdout = "stdout"
	Stderr = "stderr"
	System = "system" // hookflow's own lines: step headers, retries, errors
)

// LogLine is one line of a run's log.
type LogLine struct {
	// Step is the step's index, from 0; -1 for lines about the whole run.
	Step   int       `json:"step"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
}

// DefaultMaxLogBytes caps a run's log when the configuration does not.
const DefaultMaxLogBytes = 8 << 20

// maxLineBytes splits a line that never ends, so that a step writing megabytes
// without a newline cannot make the log buffer grow without bound.
const maxLineBytes = 64 << 10

// lineCost is what a line costs of the log's cap beyond its text: the
// timestamp, step, stream and separators that the served log adds to each
// line (about 45 bytes), with room for a longer step id. Counting it keeps
// what is stored and served within the cap however short the lines are.
const lineCost = 64

// TruncatedMarker is the last line of a log that reached its cap.
const TruncatedMarker = "[hookflow] log truncated: the run wrote more than the log limit"

// runLog turns a run's output into masked, capped lines for a sink. It is safe
// for concurrent use by the writers of several streams.
type runLog struct {
	mu        sync.Mutex
	sink      func(LogLine)
	now       func() time.Time
	mask      *mask.Masker
	budget    *logBudget
	truncated bool
	// full is truncated, read without the lock: once the log is full, the
	// writers drop output as it comes, without splitting it into lines.
	full atomic.Bool
}

// logBudget is how many bytes a run's log may still take: the jobs of a run
// share one.
type logBudget struct{ remaining atomic.Int64 }

func newLogBudget(maxBytes int) *logBudget {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxLogBytes
	}
	b := &logBudget{}
	b.remaining.Store(int64(maxBytes))
	return b
}

// take spends n bytes, and reports whether they were there.
func (b *logBudget) take(n int) bool {
	for {
		left := b.remaining.Load()
		if left < int64(n) {
			return false
		}
		if b.remaining.CompareAndSwap(left, left-int64(n)) {
			return true
		}
	}
}

func newRunLog(sink func(LogLine), now func() time.Time, budget *logBudget, m *mask.Masker) *runLog {
	return &runLog{sink: sink, now: now, mask: m, budget: budget}
}

// Mask replaces the secrets in s.
func (l *runLog) Mask(s string) string { return l.mask.Mask(s) }

// emit masks, counts and delivers one line.
func (l *runLog) emit(step int, stream, text string) {
	text = l.Mask(strings.ToValidUTF8(text, "\uFFFD"))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.truncated {
		return
	}
	if !l.budget.take(len(text) + lineCost) {
		l.truncated = true
		l.full.Store(true)
		l.sink(LogLine{Step: step, Stream: System, Time: l.now(), Text: TruncatedMarker})
		return
	}
	l.sink(LogLine{Step: step, Stream: stream, Time: l.now(), Text: text})
}

// Systemf writes a line of hookflow's own.
func (l *runLog) Systemf(step int, format string, args ...any) {
	l.emit(step, System, fmt.Sprintf(format, args...))
}

// Writer returns an io.Writer that splits a stream into lines. Call Flush on it
// when the stream ends, to emit a last line with no newline.
func (l *runLog) Writer(step int, stream string) *lineWriter {
	return &lineWriter{log: l, step: step, stream: stream}
}

// lineWriter buffers at most one partial line of one stream.
type lineWriter struct {
	log    *runLog
	step   int
	stream string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.log.full.Load() {
		// Drained, as it must be, but nothing more is kept.
		w.buf = w.buf[:0]
		return n, nil
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i >= 0 && len(w.buf)+i <= maxLineBytes {
			line := p[:i]
			if len(w.buf) > 0 {
				line = append(w.buf, line...)
			}
			w.log.emit(w.step, w.stream, string(bytes.TrimSuffix(line, []byte("\r"))))
			w.buf = w.buf[:0]
			p = p[i+1:]
			continue
		}
		// No line ends within maxLineBytes.
		room := maxLineBytes - len(w.buf)
		if len(p) < room {
			w.buf = append(w.buf, p...)
			break
		}
		w.buf = append(w.buf, p[:room]...)
		p = p[room:]
		w.split()
	}
	return n, nil
}

// split emits the first part of a line that reached maxLineBytes without
// ending. It keeps back the last bytes, as many as the longest secret form
// less one (at most half a line, so that each split makes headway), so that
// a secret the step is still writing is found whole in the next part; and it
// never cuts through a secret form found in the line.
func (w *lineWriter) split() {
	hold := min(max(w.log.mask.Longest()-1, 0), maxLineBytes/2)
	at := len(w.buf) - hold
	for at > 0 && at < len(w.buf) && !utf8.RuneStart(w.buf[at]) {
		at-- // nor through a character
	}
	at = w.log.mask.Cut(string(w.buf), at)
	w.log.emit(w.step, w.stream, string(w.buf[:at]))
	w.buf = w.buf[:copy(w.buf, w.buf[at:])]
}

// Flush emits a pending partial line.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.log.emit(w.step, w.stream, string(w.buf))
		w.buf = w.buf[:0]
	}
}
