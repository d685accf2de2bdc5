package config

import "strings"

// VarPrefix starts the environment variable of each configuration variable:
// HOOKFLOW_VAR_APP_DIR is vars.APP_DIR.
const VarPrefix = "HOOKFLOW_VAR_"

// VarValues returns the configuration variables: the file's vars, then those
// that environ (KEY=VALUE entries, as os.Environ gives) sets with VarPrefix,
// which win. The map is never nil.
func (c *Config) VarValues(environ []string) map[string]string {
	vars := make(map[string]string, len(c.Vars))
	for k, v := range c.Vars {
		vars[k] = v
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if name, found := strings.CutPrefix(k, VarPrefix); ok && found && name != "" {
			vars[name] = v
		}
	}
	return vars
}
