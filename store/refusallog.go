package store

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/workflows"
)

// RefusalLog writes refusals to a Refusals table in the background, so that
// the answer to a refused delivery never waits on the store, and a flood of
// refused deliveries costs the store at most one small batch per Interval.
// What does not fit its buffer is dropped and counted (Dropped): a refusal
// is not an acknowledged event, and losing some, or the buffered ones on a
// crash, is fine.
type RefusalLog struct {
	table  Refusals
	opt    RefusalLogOptions
	queue  chan *workflows.Refusal
	drops  atomic.Uint64
	logger *slog.Logger
}

// RefusalLogOptions bound a RefusalLog. Zero fields take the defaults.
type RefusalLogOptions struct {
	// Keep is how many refusals the table keeps (default 1000).
	Keep int
	// MaxAge is how long the table keeps a refusal (default 7 days).
	MaxAge time.Duration
	// Buffer is how many refusals wait to be written (default 256).
	Buffer int
	// Interval is the least time between two writes (default 1s).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults of RefusalLogOptions.
const (
	DefaultRefusalsKept   = 1000
	DefaultRefusalMaxAge  = 7 * 24 * time.Hour
	defaultRefusalBuffer  = 256
	defaultRefusalWriteIn = time.Second
)

// NewRefusalLog returns a log that writes to table once Run runs, telling
// logger (nil: nobody) of failed writes.
func NewRefusalLog(table Refusals, opt RefusalLogOptions, logger *slog.Logger) *RefusalLog {
	if opt.Keep <= 0 {
		opt.Keep = DefaultRefusalsKept
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultRefusalMaxAge
	}
	if opt.Buffer <= 0 {
		opt.Buffer = defaultRefusalBuffer
	}
	if opt.Interval <= 0 {
		opt.Interval = defaultRefusalWriteIn
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RefusalLog{table: table, opt: opt, queue: make(chan *workflows.Refusal, opt.Buffer), logger: logger}
}

// Refused queues the refusal build makes to be written, giving it an ID and
// a Time when it has none; it never blocks. When the buffer is full the
// refusal is counted as dropped without being built, which keeps a flood of
// refused deliveries cheap. The log keeps what build returns.
func (l *RefusalLog) Refused(build func() *workflows.Refusal) {
	if len(l.queue) == cap(l.queue) {
		l.drops.Add(1)
		return
	}
	r := build()
	if r.Time.IsZero() {
		r.Time = l.opt.Now()
	}
	if r.ID == "" {
		r.ID = ulid.Make().String()
	}
	select {
	case l.queue <- r:
	default:
		l.drops.Add(1)
	}
}

// Dropped counts the refusals dropped because the buffer was full.
func (l *RefusalLog) Dropped() uint64 { return l.drops.Load() }

// Run writes queued refusals in batches, and trims the table after each
// batch and hourly, until ctx ends; then it writes what is still queued.
// Writes are not cut short by ctx's end, only bounded in time.
func (l *RefusalLog) Run(ctx context.Context) {
	hourly := time.NewTicker(time.Hour)
	defer hourly.Stop()
	l.write(ctx, nil)
	for {
		select {
		case <-ctx.Done():
			l.write(ctx, nil)
			return
		case <-hourly.C:
			l.write(ctx, nil)
		case r := <-l.queue:
			l.write(ctx, r)
			// Whatever comes meanwhile waits for the next batch.
			select {
			case <-ctx.Done():
			case <-time.After(l.opt.Interval):
			}
		}
	}
}

// write stores first (if not nil) and what is queued, then trims.
func (l *RefusalLog) write(ctx context.Context, first *workflows.Refusal) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var batch []*workflows.Refusal
	if first != nil {
		batch = append(batch, first)
	}
	for len(batch) < cap(l.queue) {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	if len(batch) > 0 {
		if err := l.table.AddRefusals(ctx, batch); err != nil {
			l.logger.Warn("refused deliveries not recorded", "count", len(batch), "err", err)
		}
	}
	if err := l.table.TrimRefusals(ctx, l.opt.Keep, l.opt.Now().Add(-l.opt.MaxAge)); err != nil {
		l.logger.Warn("trim refused deliveries", "err", err)
	}
}
