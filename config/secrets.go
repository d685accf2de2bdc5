package config

import (
	"os"
	"path/filepath"
	"strings"
)

// SecretLookup returns the function that reads secret values: the environment
// that env reads first, then the secrets folder. Missing secrets are absent
// from the map.
func (c *Config) SecretLookup(env func(string) (string, bool)) func(names []string) map[string]string {
	return func(names []string) map[string]string {
		out := make(map[string]string, len(names))
		for _, n := range names {
			if v, ok := env(c.Secrets.EnvPrefix + n); ok {
				out[n] = v
				continue
			}
			if c.Secrets.Dir != "" && validSecretName(n) {
				if b, err := os.ReadFile(filepath.Join(c.Secrets.Dir, n)); err == nil {
					out[n] = strings.TrimRight(string(b), "\r\n")
				}
			}
		}
		return out
	}
}

// validSecretName keeps secret names from reaching outside the secrets folder.
func validSecretName(n string) bool {
	return n != "" && !strings.ContainsAny(n, `/\`) && n != "." && n != ".."
}
