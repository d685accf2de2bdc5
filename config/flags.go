package config

import (
	"flag"
	"os"
)

// Flags are the flags serve and doctor share: where the configuration is, and
// the settings a flag may override.
type Flags struct {
	fs                                   *flag.FlagSet
	file, listen, workflows, data, store *string
}

// BindFlags defines the configuration's flags on fs.
func BindFlags(fs *flag.FlagSet) *Flags {
	return &Flags{fs: fs,
		file:      fs.String("config", "hookflow.yaml", "configuration file"),
		listen:    fs.String("listen", "", "address to listen on (default 127.0.0.1:8080)"),
		workflows: fs.String("workflows", "", "folder of workflow files (default ./workflows)"),
		data:      fs.String("data", "", "data folder (default ./.hookflow)"),
		store:     fs.String("store", "", "store: sqlite://FILE (default in the data folder) or postgres://… (several nodes)"),
	}
}

// File is the configuration file the flags name (hookflow.yaml by default).
func (f *Flags) File() string { return *f.file }

// Load reads the configuration, applies the environment and the flags, and
// fills the defaults. Call it after the flags are parsed.
func (f *Flags) Load() (*Config, error) {
	explicit := false
	f.fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "config" })
	cfg, err := Read(*f.file, explicit, os.Getenv)
	if err != nil {
		return nil, err
	}
	for _, o := range []struct{ flag, field *string }{
		{f.listen, &cfg.Listen}, {f.workflows, &cfg.Workflows.Folder}, {f.data, &cfg.DataDir}, {f.store, &cfg.Store},
	} {
		if *o.flag != "" {
			*o.field = *o.flag
		}
	}
	if err := cfg.Finish(); err != nil {
		return nil, err
	}
	return cfg, nil
}
