package main

import "runtime/debug"

// The version stamped by the linker wins; a binary built without it (go
// build, go install, make serve) is named by what the Go toolchain stamped
// into it, so that `hookflow version`, the server's first line and an agent's
// reported version say which commit it was built from rather than "dev".
func init() {
	if info, ok := debug.ReadBuildInfo(); ok {
		version = stampedVersion(version, info)
	}
}

// stampedVersion is v unless it is the unstamped "dev": then the module's
// version as the toolchain stamped it (module@version, or a pseudo-version of
// the checkout's commit), else dev-REVISION from the VCS settings (with
// -dirty for uncommitted changes), else "dev".
func stampedVersion(v string, info *debug.BuildInfo) string {
	if v != "dev" {
		return v
	}
	if mv := info.Main.Version; mv != "" && mv != "(devel)" {
		return mv
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return v
	}
	v += "-" + rev[:min(7, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}
