package main

import "github.com/prometheus/client_golang/prometheus"

// serverMetrics are the server-level metrics of SPEC §8; the run metrics are
// the runner's.
type serverMetrics struct {
	workflowsLoaded prometheus.Gauge
	reloadErrors    prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer, queueDepth func() float64) *serverMetrics {
	m := &serverMetrics{
		workflowsLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookflow_workflows_loaded", Help: "Workflows in the active set.",
		}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookflow_reload_errors_total", Help: "Workflow reloads that failed, leaving the last good set active.",
		}),
	}
	reg.MustRegister(m.workflowsLoaded, m.reloadErrors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookflow_queue_depth", Help: "Runs waiting in the queue.",
	}, queueDepth))
	return m
}
