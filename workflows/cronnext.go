package workflows

import "time"

// Spec is the schedule as the cron scheduler takes it: with its timezone,
// when it has one, as a CRON_TZ= prefix.
func (c *Cron) Spec() string {
	if c.Timezone != "" {
		return "CRON_TZ=" + c.Timezone + " " + c.Schedule
	}
	return c.Schedule
}

// Next is when the schedule fires next after t, in its timezone (UTC when it
// has none); zero for a schedule that does not parse or never fires.
func (c *Cron) Next(t time.Time) time.Time {
	s, err := CronParser().Parse(c.Spec())
	if err != nil {
		return time.Time{}
	}
	return s.Next(t.UTC())
}

// NextCron is when any of w's cron triggers fires next after t; zero when w
// has none, or is disabled.
func (w *Workflow) NextCron(t time.Time) time.Time {
	var next time.Time
	if w.Disabled {
		return next
	}
	for _, c := range w.On.Cron {
		if n := c.Next(t); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}
