package runner

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the run metrics of SPEC §8. A nil *Metrics records nothing, so
// tests and the local `hookflow run` need none.
type Metrics struct {
	runs         *prometheus.CounterVec
	runDuration  prometheus.Histogram
	stepDuration prometheus.Histogram
	runsRunning  prometheus.Gauge
	events       prometheus.Counter
}

// NewMetrics registers the run metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_runs_total", Help: "Finished runs by workflow and status.",
		}, []string{"workflow", "status"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookflow_run_duration_seconds", Help: "How long runs took, from start to finish.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}),
		stepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookflow_step_duration_seconds", Help: "How long steps that ran took.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
		}),
		runsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookflow_runs_running", Help: "Runs executing on this node.",
		}),
	}
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookflow_events_total", Help: "Events stored (duplicates not counted).",
	})
	reg.MustRegister(m.runs, m.runDuration, m.stepDuration, m.runsRunning, m.events)
	return m
}

func (m *Metrics) running(delta float64) {
	if m != nil {
		m.runsRunning.Add(delta)
	}
}

func (m *Metrics) finished(workflow string, res Result) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(workflow, res.Status).Inc()
	if !res.StartedAt.IsZero() {
		m.runDuration.Observe(res.FinishedAt.Sub(res.StartedAt).Seconds())
	}
}

func (m *Metrics) step(r StepResult) {
	if m != nil && !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		m.stepDuration.Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
	}
}

func (m *Metrics) event() {
	if m != nil {
		m.events.Inc()
	}
}
