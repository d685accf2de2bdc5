package api

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// agentMetrics are the gauges of SPEC §12, read from the store at each
// scrape, so that every node of a cluster shows the cluster's figures.
type agentMetrics struct {
	store     store.Store
	logger    *slog.Logger
	connected *prometheus.Desc
	waiting   *prometheus.Desc
}

// scrapeTimeout bounds the store's reads for one scrape.
const scrapeTimeout = 2 * time.Second

// NewAgentMetrics returns the collector of hookflow_agents_connected (agents
// heard from within AgentOnlineWithin) and hookflow_jobs_waiting{labels}
// (jobs offered to runners on other hosts and not yet claimed, by their
// runs_on joined with ","). A scrape the store cannot answer leaves them out,
// telling logger.
func NewAgentMetrics(st store.Store, logger *slog.Logger) prometheus.Collector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &agentMetrics{store: st, logger: logger,
		connected: prometheus.NewDesc("hookflow_agents_connected", "Agents heard from within the last minute.", nil, nil),
		waiting: prometheus.NewDesc("hookflow_jobs_waiting", "Jobs offered to runners on other hosts and not yet claimed, by the labels they need.",
			[]string{"labels"}, nil)}
}

func (m *agentMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.connected
	ch <- m.waiting
}

func (m *agentMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := time.Now()
	if agents, err := m.store.ListAgents(ctx); err != nil {
		m.logger.Warn("metrics: list agents", "err", err)
	} else {
		n := 0
		for _, a := range agents {
			if online(a, now) {
				n++
			}
		}
		ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, float64(n))
	}
	queue, err := m.store.RemoteQueue(ctx)
	if err != nil {
		m.logger.Warn("metrics: jobs waiting for runners", "err", err)
		return
	}
	waiting := map[string]int{}
	for _, j := range queue {
		if j.Status == workflows.StatusQueued {
			waiting[strings.Join(j.RunsOn, ",")]++
		}
	}
	for labels, n := range waiting {
		ch <- prometheus.MustNewConstMetric(m.waiting, prometheus.GaugeValue, float64(n), labels)
	}
}
