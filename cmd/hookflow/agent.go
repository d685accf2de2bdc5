package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/agent"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// cmdAgent is `hookflow agent` (SPEC §12): a runner on another host.
func cmdAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("agent", "--server URL[,URL...] --token-file F [--labels a,b] [--name N] [--parallel N] [--data DIR]", stderr)
	servers := fs.String("server", "", "URLs of the server nodes, comma-separated (any of them answers)")
	tokenFile := fs.String("token-file", "", "file holding the agent's token (default: $HOOKFLOW_AGENT_TOKEN)")
	labels := fs.String("labels", "", "labels offered, comma-separated (default: all the agent was registered with)")
	name := fs.String("name", "", "the name the agent was registered with (the server refuses its token under another)")
	parallel := fs.Int("parallel", 1, "jobs run at once")
	dataDir := fs.String("data", ".hookflow-agent", "data folder: the spool of unreported results and logs, and the jobs' workspaces")
	caFile := fs.String("ca-file", "", "PEM file of the certificate authorities to trust for the servers (default: the system's)")
	level := fs.String("sandbox-level", workflows.LevelAuto, "default sandbox level of steps: auto, isolated or process")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long running jobs may finish on SIGTERM before they are handed back")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if pos, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "agent", err)
	} else if len(pos) > 0 {
		return usageError(stderr, "agent", fmt.Errorf("unexpected argument %q", pos[0]))
	}
	urls := splitList(*servers)
	if len(urls) == 0 {
		return usageError(stderr, "agent", errors.New("name a server: --server URL"))
	}
	if *parallel < 1 {
		return usageError(stderr, "agent", fmt.Errorf("--parallel %d: use 1 or more", *parallel))
	}
	switch *level {
	case workflows.LevelAuto, workflows.LevelIsolated, workflows.LevelProcess:
	default:
		return usageError(stderr, "agent", fmt.Errorf("--sandbox-level %q: use auto, isolated or process", *level))
	}
	token, err := agentToken(*tokenFile)
	if err != nil {
		return usageError(stderr, "agent", err)
	}
	hc, err := agentHTTP(*caFile)
	if err != nil {
		return usageError(stderr, "agent", err)
	}
	data, err := filepath.Abs(*dataDir)
	if err == nil {
		err = os.MkdirAll(data, 0o700)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hookflow agent: data folder: %s\n", err)
		return exitFail
	}

	log := newLogger(stderr, *logLevel)
	if err := sandbox.HardenServer(); err != nil {
		log.Warn("steps at the process level may read the agent's environment", "err", err)
	}
	// Steps must reach neither the spool nor the agent's token and keys.
	host := sandbox.NewHost(sandbox.Options{Protected: []string{data, *tokenFile, *caFile}})
	a, err := agent.New(agent.Config{Servers: urls, Token: token, Name: *name, Labels: splitList(*labels), Parallel: *parallel,
		DataDir: data, Actions: builtin.Registry(), Sandbox: host, SandboxDefaults: workflows.Sandbox{Level: *level},
		Path: os.Getenv("PATH"), ShutdownTimeout: *shutdown, Version: version, Logger: log, HTTP: hc})
	if err != nil {
		return usageError(stderr, "agent", err)
	}
	who := *name
	if who == "" {
		who = "(named by its token)"
	}
	fmt.Fprintf(stdout, "hookflow agent %s connecting to %s\n", who, strings.Join(urls, ", "))
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "hookflow agent: %s\n", err)
		return exitFail
	}
	return exitOK
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// agentToken reads the agent's token from file, or else from
// $HOOKFLOW_AGENT_TOKEN.
func agentToken(file string) (string, error) {
	if file == "" {
		if t := strings.TrimSpace(os.Getenv("HOOKFLOW_AGENT_TOKEN")); t != "" {
			return t, nil
		}
		return "", errors.New("give the agent's token: --token-file F or HOOKFLOW_AGENT_TOKEN")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	return t, nil
}

// agentHTTP is the agent's HTTP client: it trusts the certificate
// authorities of caFile, when given, instead of the system's.
func agentHTTP(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}
