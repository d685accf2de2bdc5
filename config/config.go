// Package config reads hookflow.yaml (SPEC §8): the file, the HOOKFLOW_*
// environment variables over it and the flags over both, with the defaults
// filled and the values checked.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// Config is hookflow.yaml (SPEC §8). Flags override it, and HOOKFLOW_*
// environment variables override the file but not the flags.
type Config struct {
	Listen    string       `yaml:"listen"`
	Workflows Workflows    `yaml:"workflows"`
	DataDir   string       `yaml:"data_dir"`
	Store     string       `yaml:"store"`
	Node      string       `yaml:"node"`
	PublicURL string       `yaml:"public_url"`
	Secrets   SecretConfig `yaml:"secrets"`
	// Vars are the configuration variables, vars.NAME in workflows; not
	// secret: they may appear in logs. See VarValues for the environment's.
	Vars   map[string]string `yaml:"vars"`
	API    APIConfig         `yaml:"api"`
	TLS    TLSConfig         `yaml:"tls"`
	Limits Limits            `yaml:"limits"`
	// NotifySMTP is the mail server of email notices (SPEC §13).
	NotifySMTP SMTPConfig   `yaml:"notify_smtp"`
	Runner     RunnerConfig `yaml:"runner"`
	// Metrics says who may read /metrics.
	Metrics MetricsConfig `yaml:"metrics"`
	// Sandbox is every step's `sandbox:` (SPEC §7), which workflows and steps
	// override; its level defaults to auto.
	Sandbox workflows.Sandbox `yaml:"sandbox"`
	// Durability is sync (fsync every commit, the default) or normal.
	Durability      string             `yaml:"durability"`
	Retention       workflows.Duration `yaml:"retention"`
	ShutdownTimeout workflows.Duration `yaml:"shutdown_timeout"`
	LogLevel        string             `yaml:"log_level"`
	// File is the configuration file read, if one was; steps must not read it.
	File string `yaml:"-"`
}

// Workflows says where workflow files come from: a folder (watched, reloaded
// on change), or a git repository (polled).
type Workflows struct {
	Folder string
	Git    *triggers.GitConfig
}

// UnmarshalYAMLNode reads `workflows: DIR` or `workflows: {git: URL, …}`.
func (w *Workflows) UnmarshalYAMLNode(n *yaml.Node, decode func(*yaml.Node, any) bool) error {
	if n.Kind == yaml.ScalarNode {
		w.Folder = n.Value
		return nil
	}
	w.Git = &triggers.GitConfig{}
	if decode(n, w.Git) && w.Git.URL == "" {
		return errors.New("workflows: a git source needs `git: URL`")
	}
	return nil
}

// String names the source for people.
func (w Workflows) String() string {
	if w.Git != nil {
		return w.Git.URL
	}
	return w.Folder
}

// SecretConfig says where secret values come from.
type SecretConfig struct {
	// EnvPrefix: a secret NAME is read from the variable <prefix>NAME.
	EnvPrefix string `yaml:"env_prefix"`
	// Dir: a secret NAME is read from the file Dir/NAME.
	Dir string `yaml:"dir"`
}

// APIConfig holds the API's bearer tokens.
type APIConfig struct {
	Tokens    []string `yaml:"tokens"`
	TokenFile string   `yaml:"token_file"`
}

// MetricsConfig is `metrics:`.
type MetricsConfig struct {
	// Public opens /metrics to every client, without a token, for a
	// Prometheus on another host; otherwise it has the API's access rule.
	Public bool `yaml:"public"`
	// Pprof serves Go's runtime profiles under /debug/pprof/, with the API's
	// access rule, so that an operator can see where a busy server's time
	// goes (go tool pprof URL).
	Pprof bool `yaml:"pprof"`
}

// SMTPConfig is `notify_smtp:`, the mail server email notices go through.
// The password may come from HOOKFLOW_NOTIFY_SMTP_PASSWORD instead of the
// file.
type SMTPConfig struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	From     string `yaml:"from"`
	// StartTLS upgrades the connection before anything is sent, and fails
	// when the server does not offer it (default true).
	StartTLS *bool `yaml:"starttls"`
	// CAFile is a PEM file of the certificate authorities the server's
	// certificate is checked against, instead of the system's.
	CAFile string `yaml:"ca_file"`
}

// TLSConfig makes the server speak HTTPS.
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Limits bound the server's work.
type Limits struct {
	MaxBody         workflows.ByteSize `yaml:"max_body"`
	MaxParallelRuns int                `yaml:"max_parallel_runs"`
	MaxQueuedRuns   int                `yaml:"max_queued_runs"`
	MaxLogBytes     workflows.ByteSize `yaml:"max_log_bytes"`
	DedupWindow     workflows.Duration `yaml:"dedup_window"`
	// Lease is how long a run stays its node's without a heartbeat; then
	// another node sharing the store recovers it (default 30s).
	Lease workflows.Duration `yaml:"lease"`
	// ReadHeaderTimeout cuts clients that send their headers too slowly.
	ReadHeaderTimeout workflows.Duration `yaml:"read_header_timeout"`
	// MaxWorkflowBytes is the largest workflow file loaded; a larger one
	// fails the reload and the last good set stays.
	MaxWorkflowBytes workflows.ByteSize `yaml:"max_workflow_bytes"`
	// MaxMatching bounds the webhook deliveries parsed, matched and stored at
	// once, counted in deliveries of max_body (default twice the CPUs Go uses).
	MaxMatching int `yaml:"max_matching"`
	// Rate limits each client address's webhook deliveries (default off).
	Rate triggers.RateLimit `yaml:"rate"`
	// QueueTimeout is how long a job waits for a runner with its labels
	// before it fails (SPEC §12, default 24h).
	QueueTimeout workflows.Duration `yaml:"queue_timeout"`
	// MaxRefused and RefusedRetention bound the refused webhook deliveries
	// kept to explain why a hook did not fire (default 1000 and 7d).
	MaxRefused       int                `yaml:"max_refused"`
	RefusedRetention workflows.Duration `yaml:"refused_retention"`
}

// RunnerConfig is `runner:`, this node as a runner of jobs (SPEC §12).
type RunnerConfig struct {
	// Labels are those of the jobs this node runs itself (default [local]);
	// it offers the others to agents.
	Labels []string `yaml:"labels"`
}

// WorkflowFiles is how the server reads workflow files.
func (c *Config) WorkflowFiles(actions workflows.ActionChecker) workflows.Loader {
	return workflows.Loader{Actions: actions, MaxFileBytes: int64(c.Limits.MaxWorkflowBytes)}
}

// Defaults (SPEC §8).
const (
	defaultListen        = "127.0.0.1:8080"
	defaultMaxBody       = 1 << 20
	defaultMaxQueuedRuns = 10000
	defaultRetention     = 30 * 24 * time.Hour
	// Refused deliveries kept, at most, and for at most.
	defaultMaxRefused       = 1000
	defaultRefusedRetention = 7 * 24 * time.Hour
	// DefaultSecretPrefix starts the environment variable of each secret
	// unless secrets.env_prefix says otherwise.
	DefaultSecretPrefix = "HOOKFLOW_SECRET_"
)

// Read reads file, which may be missing unless explicit, then applies the
// environment that env reads. Flags go on top; then call Finish.
func Read(file string, explicit bool, env func(string) string) (*Config, error) {
	c := &Config{}
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := workflows.DecodeYAML(file, data, c); err != nil {
			return nil, err
		}
		c.File = file
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return nil, fmt.Errorf("config: %w", err)
	}
	for key, field := range map[string]*string{
		"HOOKFLOW_LISTEN": &c.Listen, "HOOKFLOW_WORKFLOWS": &c.Workflows.Folder, "HOOKFLOW_DATA": &c.DataDir,
		"HOOKFLOW_STORE": &c.Store, "HOOKFLOW_NODE": &c.Node, "HOOKFLOW_PUBLIC_URL": &c.PublicURL,
		"HOOKFLOW_NOTIFY_SMTP_PASSWORD": &c.NotifySMTP.Password,
	} {
		if v := env(key); v != "" {
			*field = v
		}
	}
	if v := env("HOOKFLOW_API_TOKENS"); v != "" {
		c.API.Tokens = strings.Split(v, ",")
	}
	return c, nil
}

// Finish fills the defaults, checks the values and reads the token file; call
// it once the flags are applied.
func (c *Config) Finish() error {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.Workflows.Folder != "" {
		c.Workflows.Git = nil // a folder named by a flag or the environment wins
	}
	if c.Workflows.Folder == "" && c.Workflows.Git == nil {
		c.Workflows.Folder = "workflows"
	}
	if c.DataDir == "" {
		c.DataDir = ".hookflow"
	}
	if c.Store == "" {
		c.Store = "sqlite://" + filepath.Join(c.DataDir, "hookflow.db")
	}
	if c.Node == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "node"
		}
		c.Node = host
		if IsPostgres(c.Store) {
			// Nodes that share a store need names of their own: a node takes the
			// runs its name holds, at its start, for runs of its dead self.
			c.Node = fmt.Sprintf("%s-%d", host, os.Getpid())
		}
	}
	if c.Secrets.EnvPrefix == "" {
		c.Secrets.EnvPrefix = DefaultSecretPrefix
	}
	l := &c.Limits
	if l.MaxBody == 0 {
		l.MaxBody = defaultMaxBody
	}
	if l.MaxParallelRuns == 0 {
		l.MaxParallelRuns = runner.DefaultMaxParallel
	}
	if l.MaxQueuedRuns == 0 {
		l.MaxQueuedRuns = defaultMaxQueuedRuns
	}
	if l.MaxLogBytes == 0 {
		l.MaxLogBytes = runner.DefaultMaxLogBytes
	}
	if l.MaxWorkflowBytes == 0 {
		l.MaxWorkflowBytes = workflows.DefaultMaxFileBytes
	}
	if l.DedupWindow == 0 {
		l.DedupWindow = workflows.Duration(runner.DefaultDedupWindow)
	}
	if l.Lease <= 0 {
		l.Lease = workflows.Duration(runner.DefaultLease)
	}
	if l.QueueTimeout <= 0 {
		l.QueueTimeout = workflows.Duration(runner.DefaultQueueTimeout)
	}
	if len(c.Runner.Labels) == 0 {
		c.Runner.Labels = slices.Clone(workflows.DefaultRunsOn)
	}
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = workflows.Duration(10 * time.Second)
	}
	if l.MaxRefused <= 0 {
		l.MaxRefused = defaultMaxRefused
	}
	if l.RefusedRetention <= 0 {
		l.RefusedRetention = workflows.Duration(defaultRefusedRetention)
	}
	if l.MaxMatching < 0 {
		return errors.New("config: limits.max_matching must not be negative")
	}
	if l.Rate.PerSecond < 0 || l.Rate.Burst < 0 {
		return errors.New("config: limits.rate per_second and burst must not be negative")
	}
	if c.Retention == 0 {
		c.Retention = workflows.Duration(defaultRetention)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = workflows.Duration(runner.DefaultShutdownGrace)
	}
	switch c.Sandbox.Level {
	case "":
		c.Sandbox.Level = workflows.LevelAuto
	case workflows.LevelAuto, workflows.LevelIsolated, workflows.LevelProcess:
	default:
		return fmt.Errorf("config: sandbox level %q: use auto, isolated or process", c.Sandbox.Level)
	}
	if c.Sandbox.Pids < 0 {
		return errors.New("config: sandbox pids must not be negative")
	}
	switch c.Durability {
	case "":
		c.Durability = "sync"
	case "sync", "normal":
	default:
		return fmt.Errorf("config: durability %q: use sync or normal", c.Durability)
	}
	if c.API.TokenFile != "" {
		data, err := os.ReadFile(c.API.TokenFile)
		if err != nil {
			return fmt.Errorf("config: api.token_file: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				c.API.Tokens = append(c.API.Tokens, t)
			}
		}
	}
	for i, t := range c.API.Tokens {
		c.API.Tokens[i] = strings.TrimSpace(t)
		if len(c.API.Tokens[i]) < 16 {
			return errors.New("config: api tokens must be at least 16 characters")
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("config: tls needs both cert and key")
	}
	return c.NotifySMTP.finish()
}

// finish fills notify_smtp's defaults and checks it; unset, it stays unset.
func (m *SMTPConfig) finish() error {
	if m.Host == "" {
		if m.From != "" || m.Username != "" || m.Port != 0 {
			return errors.New("config: notify_smtp needs a host")
		}
		return nil
	}
	if m.StartTLS == nil {
		on := true
		m.StartTLS = &on
	}
	if m.Port == 0 {
		m.Port = 587
	}
	if m.Port < 0 || m.Port > 65535 {
		return fmt.Errorf("config: notify_smtp port %d is not a port", m.Port)
	}
	if m.From == "" || strings.ContainsAny(m.From, "\r\n") || !strings.Contains(m.From, "@") {
		return errors.New("config: notify_smtp needs from: an address such as hookflow@example.com")
	}
	if m.Password != "" && m.Username == "" {
		return errors.New("config: notify_smtp has a password but no username")
	}
	return nil
}

// IsPostgres reports whether dsn names a PostgreSQL store, which several
// nodes may share (SPEC §10).
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// ServerFiles are the files and folders of the server that steps must not
// reach: the data folder (store, workspaces, git checkout), the
// configuration, secrets, tokens and keys, and the store's files when they
// live elsewhere.
func (c *Config) ServerFiles() []string {
	files := []string{c.DataDir, c.File, c.Secrets.Dir, c.API.TokenFile, c.TLS.Key}
	if g := c.Workflows.Git; g != nil {
		files = append(files, g.SSHKey)
	}
	if db, ok := strings.CutPrefix(c.Store, "sqlite://"); ok {
		db = filepath.Clean(db)
		files = append(files, db, db+"-wal", db+"-shm", db+"-journal")
	}
	return files
}
