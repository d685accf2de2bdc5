package triggers

import (
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/workflows"
)

// CronFire is called for every tick of a workflow's schedule.
type CronFire func(tick *intake.Tick)

// Cron fires the `on.cron` schedules of the active workflow set.
type Cron struct {
	fire   CronFire
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	sched   *cron.Cron
	entries []cron.EntryID
}

// NewCron returns a scheduler; it fires nothing until Start.
func NewCron(fire CronFire, logger *slog.Logger) *Cron {
	return &Cron{fire: fire, logger: logger, now: time.Now,
		sched: cron.New(cron.WithParser(workflows.CronParser()), cron.WithLocation(time.UTC))}
}

// Schedule replaces the schedules with those of set. Safe to call while running.
func (c *Cron) Schedule(set *workflows.Set) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.entries {
		c.sched.Remove(id)
	}
	c.entries = c.entries[:0]
	for _, w := range set.Workflows() {
		for _, s := range w.On.Cron {
			spec := s.Spec()
			id, err := c.sched.AddFunc(spec, func() { c.tick(w, s) })
			if err != nil {
				// Schedules were parsed when the set loaded; this is unexpected.
				c.logger.Error("cron schedule", "workflow", w.Name, "schedule", spec, "err", err)
				continue
			}
			c.entries = append(c.entries, id)
		}
	}
}

func (c *Cron) tick(w *workflows.Workflow, s *workflows.Cron) {
	c.fire(&intake.Tick{Workflow: w, Schedule: s.Schedule, At: c.now()})
}

// Start starts firing schedules.
func (c *Cron) Start() { c.sched.Start() }

// Stop stops firing and waits for fires in progress.
func (c *Cron) Stop() { <-c.sched.Stop().Done() }
