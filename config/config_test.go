package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

// inTempDir writes files, by name, into a new folder and returns its path.
func inTempDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// configFile is a hookflow.yaml that holds content.
func configFile(t *testing.T, content string) string {
	t.Helper()
	return filepath.Join(inTempDir(t, map[string]string{"hookflow.yaml": content}), "hookflow.yaml")
}

// noEnv is an environment without a HOOKFLOW_* variable.
func noEnv(string) string { return "" }

// readFinished reads the configuration in content and fills its defaults.
func readFinished(t *testing.T, content string) (*Config, error) {
	t.Helper()
	c, err := Read(configFile(t, content), true, noEnv)
	if err != nil {
		return nil, err
	}
	return c, c.Finish()
}

// TestConfigDurationsInDays checks that hookflow.yaml reads days and weeks, so
// that SPEC §8's `retention: 30d` is accepted as written.
func TestConfigDurationsInDays(t *testing.T) {
	file := configFile(t, "retention: 30d\nshutdown_timeout: 1.5m\nlimits: {dedup_window: 1w, lease: 1d}\nworkflows: {git: https://example.invalid/w.git, poll: 1d}\n")
	cfg, err := Read(file, true, noEnv)
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

	bad := configFile(t, "retention: 30 days\n")
	_, err = Read(bad, true, noEnv)
	if err == nil || !strings.Contains(err.Error(), "hookflow.yaml:1:12") || !strings.Contains(err.Error(), "d, w") {
		t.Errorf("retention: 30 days: %v, want an error at 1:12 naming the units", err)
	}
}

func TestConfigMetricsPublic(t *testing.T) {
	for content, want := range map[string]bool{"": false, "metrics: {public: false}\n": false, "metrics: {public: true}\n": true} {
		file := configFile(t, "listen: 127.0.0.1:0\n"+content)
		cfg, err := Read(file, true, noEnv)
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if cfg.Metrics.Public != want {
			t.Errorf("%q: metrics.public %v, want %v", content, cfg.Metrics.Public, want)
		}
	}
	file := configFile(t, "metrics: {open: true}\n")
	if _, err := Read(file, true, noEnv); err == nil || !strings.Contains(err.Error(), "open") {
		t.Errorf("an unknown metrics key: %v, want an error naming it", err)
	}
}

func TestConfigMaxWorkflowBytes(t *testing.T) {
	for _, tc := range []struct {
		config string
		want   int64
	}{
		{"listen: 127.0.0.1:0\n", 1 << 20},
		{"limits: {max_workflow_bytes: 64Ki}\n", 64 << 10},
	} {
		c, err := readFinished(t, tc.config)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.WorkflowFiles(nil).MaxFileBytes; got != tc.want {
			t.Errorf("%q: workflow files limited to %d bytes, want %d", tc.config, got, tc.want)
		}
	}
}

// TestNodeNamesDifferPerProcess: without a configured name, nodes on a
// shared store are named after the host and their process, so that no node
// takes another's runs for its own.
func TestNodeNamesDifferPerProcess(t *testing.T) {
	for _, tc := range []struct {
		store  string
		suffix bool
	}{
		{"postgres://db.example/hookflow", true},
		{"postgresql://db.example/hookflow", true},
		{"sqlite:///var/lib/hookflow/hookflow.db", false},
	} {
		t.Run(strings.Split(tc.store, ":")[0], func(t *testing.T) {
			c := &Config{Store: tc.store}
			if err := c.Finish(); err != nil {
				t.Fatal(err)
			}
			host, _ := os.Hostname()
			want := host
			if tc.suffix {
				want = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			if c.Node != want {
				t.Fatalf("node %q, want %q", c.Node, want)
			}
		})
	}
	t.Run("configured", func(t *testing.T) {
		c := &Config{Store: "postgres://db.example/hookflow", Node: "web-1"}
		if err := c.Finish(); err != nil || c.Node != "web-1" {
			t.Fatalf("node %q, %v; want web-1", c.Node, err)
		}
	})
}

// TestDefaults pins SPEC §8's defaults for an empty hookflow.yaml.
func TestDefaults(t *testing.T) {
	c, err := readFinished(t, "")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := Config{
		Listen: "127.0.0.1:8080", Workflows: Workflows{Folder: "workflows"}, DataDir: ".hookflow",
		Store: "sqlite://.hookflow/hookflow.db", Node: host, Secrets: SecretConfig{EnvPrefix: "HOOKFLOW_SECRET_"},
		Limits: Limits{MaxBody: 1 << 20, MaxParallelRuns: runner.DefaultMaxParallel, MaxQueuedRuns: 10000,
			MaxLogBytes: runner.DefaultMaxLogBytes, DedupWindow: workflows.Duration(runner.DefaultDedupWindow),
			Lease: workflows.Duration(runner.DefaultLease), ReadHeaderTimeout: workflows.Duration(10 * time.Second),
			MaxWorkflowBytes: workflows.DefaultMaxFileBytes, QueueTimeout: workflows.Duration(24 * time.Hour),
			MaxRefused: 1000, RefusedRetention: workflows.Duration(7 * 24 * time.Hour)},
		Runner:  RunnerConfig{Labels: []string{"local"}},
		Sandbox: workflows.Sandbox{Level: workflows.LevelAuto}, Durability: "sync",
		Retention: workflows.Duration(30 * 24 * time.Hour), ShutdownTimeout: workflows.Duration(runner.DefaultShutdownGrace),
		File: c.File,
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults\n%+v\nwant\n%+v", *c, want)
	}
}

// TestRefusesBadValues pins the message of every value Finish refuses.
func TestRefusesBadValues(t *testing.T) {
	tests := []struct {
		name, config, err string
	}{
		{"negative max_matching", "limits: {max_matching: -2}\n", "config: limits.max_matching must not be negative"},
		{"negative rate", "limits: {rate: {per_second: -1}}\n", "config: limits.rate per_second and burst must not be negative"},
		{"negative burst", "limits: {rate: {burst: -1}}\n", "config: limits.rate per_second and burst must not be negative"},
		{"unknown sandbox level", "sandbox: {level: strict}\n", `config: sandbox level "strict": use auto, isolated or process`},
		{"negative pids", "sandbox: {pids: -1}\n", "config: sandbox pids must not be negative"},
		{"unknown durability", "durability: fast\n", `config: durability "fast": use sync or normal`},
		{"short token", "api: {tokens: [short]}\n", "config: api tokens must be at least 16 characters"},
		{"missing token file", "api: {token_file: /nonexistent/tokens}\n", "config: api.token_file: open /nonexistent/tokens: no such file or directory"},
		{"cert without key", "tls: {cert: /etc/cert.pem}\n", "config: tls needs both cert and key"},
		{"key without cert", "tls: {key: /etc/key.pem}\n", "config: tls needs both cert and key"},
		{"smtp without host", "notify_smtp: {from: h@example.com}\n", "config: notify_smtp needs a host"},
		{"smtp without from", "notify_smtp: {host: smtp.example.com}\n", "config: notify_smtp needs from: an address such as hookflow@example.com"},
		{"smtp password alone", "notify_smtp: {host: smtp.example.com, from: h@example.com, password: p}\n", "config: notify_smtp has a password but no username"},
		{"smtp port", "notify_smtp: {host: smtp.example.com, from: h@example.com, port: 70000}\n", "config: notify_smtp port 70000 is not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readFinished(t, tt.config)
			if err == nil || err.Error() != tt.err {
				t.Errorf("%v, want %q", err, tt.err)
			}
		})
	}
}

// TestNotifySMTP fills notify_smtp's defaults: port 587 and STARTTLS on,
// which only an explicit false turns off; unset, it stays unset.
func TestNotifySMTP(t *testing.T) {
	c, err := readFinished(t, "notify_smtp: {host: smtp.example.com, from: hookflow@example.com}\n")
	if err != nil {
		t.Fatal(err)
	}
	if m := c.NotifySMTP; m.Port != 587 || m.StartTLS == nil || !*m.StartTLS {
		t.Errorf("defaults %+v", m)
	}
	c, err = readFinished(t, "notify_smtp: {host: localhost, port: 25, from: hookflow@example.com, starttls: false}\n")
	if err != nil || *c.NotifySMTP.StartTLS || c.NotifySMTP.Port != 25 {
		t.Errorf("starttls: false gave %+v, %v", c.NotifySMTP, err)
	}
	c, err = readFinished(t, "listen: 127.0.0.1:9000\n")
	if err != nil || c.NotifySMTP.Host != "" || c.NotifySMTP.StartTLS != nil {
		t.Errorf("unset notify_smtp became %+v, %v", c.NotifySMTP, err)
	}
}

// TestAPITokens reads tokens from the file, the token file (without blank
// lines and comments) and HOOKFLOW_API_TOKENS, trimmed.
func TestAPITokens(t *testing.T) {
	tokenFile := filepath.Join(inTempDir(t, map[string]string{"tokens": "# ops\n  token-from-the-file-1  \n\ntoken-from-the-file-2\n"}), "tokens")
	file := configFile(t, "api: {tokens: [token-in-hookflow-yaml], token_file: "+tokenFile+"}\n")
	c, err := Read(file, true, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"token-in-hookflow-yaml", "token-from-the-file-1", "token-from-the-file-2"}; !reflect.DeepEqual(c.API.Tokens, want) {
		t.Errorf("tokens %q, want %q", c.API.Tokens, want)
	}

	env := map[string]string{"HOOKFLOW_API_TOKENS": "token-from-the-env-1, token-from-the-env-2"}
	c, err = Read(file, true, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c.API.TokenFile = ""
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"token-from-the-env-1", "token-from-the-env-2"}; !reflect.DeepEqual(c.API.Tokens, want) {
		t.Errorf("tokens %q, want the environment's %q", c.API.Tokens, want)
	}
}

// TestFlagsOverEnvironmentOverFile checks the order of SPEC §8: flags win
// over HOOKFLOW_* variables, which win over hookflow.yaml.
func TestFlagsOverEnvironmentOverFile(t *testing.T) {
	for _, k := range []string{"HOOKFLOW_LISTEN", "HOOKFLOW_WORKFLOWS", "HOOKFLOW_DATA", "HOOKFLOW_STORE", "HOOKFLOW_NODE", "HOOKFLOW_PUBLIC_URL", "HOOKFLOW_API_TOKENS"} {
		t.Setenv(k, "")
	}
	file := configFile(t, `listen: 127.0.0.1:1001
workflows: {git: https://example.invalid/w.git}
data_dir: /file/data
store: sqlite:///file/hookflow.db
node: file-node
public_url: https://file.example
`)
	load := func(t *testing.T, args ...string) (*Config, error) {
		t.Helper()
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		flags := BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return flags.Load()
	}

	t.Run("the file", func(t *testing.T) {
		c, err := load(t, "--config", file)
		if err != nil {
			t.Fatal(err)
		}
		if c.File != file || c.Listen != "127.0.0.1:1001" || c.Workflows.Git == nil || c.Workflows.Folder != "" ||
			c.DataDir != "/file/data" || c.Store != "sqlite:///file/hookflow.db" || c.Node != "file-node" || c.PublicURL != "https://file.example" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("the environment over the file", func(t *testing.T) {
		t.Setenv("HOOKFLOW_LISTEN", "127.0.0.1:2002")
		t.Setenv("HOOKFLOW_WORKFLOWS", "/env/workflows")
		t.Setenv("HOOKFLOW_NODE", "env-node")
		t.Setenv("HOOKFLOW_PUBLIC_URL", "https://env.example")
		c, err := load(t, "--config", file)
		if err != nil {
			t.Fatal(err)
		}
		// A folder named by the environment wins over the file's git source.
		if c.Listen != "127.0.0.1:2002" || c.Workflows.Folder != "/env/workflows" || c.Workflows.Git != nil ||
			c.DataDir != "/file/data" || c.Node != "env-node" || c.PublicURL != "https://env.example" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("flags over the environment", func(t *testing.T) {
		t.Setenv("HOOKFLOW_LISTEN", "127.0.0.1:2002")
		t.Setenv("HOOKFLOW_DATA", "/env/data")
		t.Setenv("HOOKFLOW_STORE", "sqlite:///env/hookflow.db")
		c, err := load(t, "--config", file, "--listen", "127.0.0.1:3003", "--data", "/flag/data", "--store", "postgres://db.example/hookflow")
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:3003" || c.DataDir != "/flag/data" || c.Store != "postgres://db.example/hookflow" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("flags with the same value", func(t *testing.T) {
		c, err := load(t, "--config", file, "--workflows", "/srv/hookflow", "--data", "/srv/hookflow")
		if err != nil {
			t.Fatal(err)
		}
		if c.Workflows.Folder != "/srv/hookflow" || c.DataDir != "/srv/hookflow" {
			t.Errorf("workflows %q, data %q; want both /srv/hookflow", c.Workflows.Folder, c.DataDir)
		}
	})
	t.Run("no file at the default place", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, err := load(t)
		if err != nil {
			t.Fatal(err)
		}
		if c.File != "" || c.Listen != "127.0.0.1:8080" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("a named file that is missing", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.yaml")
		_, err := load(t, "--config", missing)
		if err == nil || err.Error() != "config: open "+missing+": no such file or directory" {
			t.Errorf("%v", err)
		}
	})
}

func TestSecretLookup(t *testing.T) {
	dir := filepath.Join(inTempDir(t, map[string]string{"OUTSIDE": "outside the folder"}), "secrets")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"KEY": "from the folder\r\n", "BOTH": "from the folder"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"APP_BOTH": "from the environment", "APP_EMPTY": ""}
	c := &Config{Secrets: SecretConfig{EnvPrefix: "APP_", Dir: dir}}
	lookup := c.SecretLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	got := lookup([]string{"KEY", "BOTH", "EMPTY", "MISSING", "../OUTSIDE", "..", "."})
	want := map[string]string{"KEY": "from the folder", "BOTH": "from the environment", "EMPTY": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secrets %q, want %q", got, want)
	}
}

func TestServerFiles(t *testing.T) {
	c, err := readFinished(t, "data_dir: /var/lib/hookflow\nstore: sqlite:///db/./hookflow.db\nsecrets: {dir: /etc/hookflow/secrets}\n"+
		"tls: {cert: /etc/hookflow/cert.pem, key: /etc/hookflow/key.pem}\nworkflows: {git: git@example.invalid:w.git, ssh_key: /etc/hookflow/id_ed25519}\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/var/lib/hookflow", c.File, "/etc/hookflow/secrets", "", "/etc/hookflow/key.pem", "/etc/hookflow/id_ed25519",
		"/db/hookflow.db", "/db/hookflow.db-wal", "/db/hookflow.db-shm", "/db/hookflow.db-journal"}
	if got := c.ServerFiles(); !reflect.DeepEqual(got, want) {
		t.Errorf("server files %q, want %q", got, want)
	}
}

// TestVarValues checks that the configuration variables come from
// hookflow.yaml's vars and from HOOKFLOW_VAR_<NAME>, the environment winning.
func TestVarValues(t *testing.T) {
	file := configFile(t, "vars: {APP_DIR: /srv/app, LB_URL: 'http://lb.internal'}\n")
	c, err := Read(file, true, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := c.VarValues([]string{"HOOKFLOW_VAR_APP_DIR=/tmp/app", "HOOKFLOW_VAR_EMPTY=", "HOOKFLOW_VAR_=x", "HOOKFLOW_SECRET_KEY=s", "PATH=/bin"})
	want := map[string]string{"APP_DIR": "/tmp/app", "LB_URL": "http://lb.internal", "EMPTY": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vars %q, want %q", got, want)
	}
	if got := (&Config{}).VarValues(nil); got == nil || len(got) != 0 {
		t.Errorf("no vars: %#v, want an empty map", got)
	}
}
