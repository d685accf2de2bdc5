package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigDurationsInDays checks that hookflow.yaml reads days and weeks, so
// that SPEC §8's `retention: 30d` is accepted as written.
func TestConfigDurationsInDays(t *testing.T) {
	file := writeFile(t, filepath.Join(t.TempDir(), "hookflow.yaml"),
		"retention: 30d\nshutdown_timeout: 1.5m\nlimits: {dedup_window: 1w, lease: 1d}\nworkflows: {git: https://example.invalid/w.git, poll: 1d}\n")
	cfg, err := loadConfig(file, true, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	for name, ok := range map[string]bool{
		"retention":    time.Duration(cfg.Retention) == 30*day,
		"shutdown":     time.Duration(cfg.ShutdownTimeout) == 90*time.Second,
		"dedup_window": time.Duration(cfg.Limits.DedupWindow) == 7*day,
		"lease":        time.Duration(cfg.Limits.Lease) == day,
		"git poll":     time.Duration(cfg.Workflows.Git.Poll) == day,
	} {
		if !ok {
			t.Errorf("%s was not read as written: %+v", name, cfg)
		}
	}

	bad := writeFile(t, filepath.Join(t.TempDir(), "hookflow.yaml"), "retention: 30 days\n")
	_, err = loadConfig(bad, true, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "hookflow.yaml:1:12") || !strings.Contains(err.Error(), "d, w") {
		t.Errorf("retention: 30 days: %v, want an error at 1:12 naming the units", err)
	}
}

func TestConfigMetricsPublic(t *testing.T) {
	for content, want := range map[string]bool{"": false, "metrics: {public: false}\n": false, "metrics: {public: true}\n": true} {
		file := writeFile(t, filepath.Join(t.TempDir(), "hookflow.yaml"), "listen: 127.0.0.1:0\n"+content)
		cfg, err := loadConfig(file, true, func(string) string { return "" })
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if cfg.Metrics.Public != want {
			t.Errorf("%q: metrics.public %v, want %v", content, cfg.Metrics.Public, want)
		}
	}
	file := writeFile(t, filepath.Join(t.TempDir(), "hookflow.yaml"), "metrics: {open: true}\n")
	if _, err := loadConfig(file, true, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "open") {
		t.Errorf("an unknown metrics key: %v, want an error naming it", err)
	}
}
