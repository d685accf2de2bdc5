package workflows

import (
	"strings"
	"testing"
)

// TestVars checks that configuration variables are read as vars.NAME in
// templates and conditions, that an unset one is the empty string, and the
// idiom the docs give for a default.
func TestVars(t *testing.T) {
	scope := NewScope(&Event{Branch: "main"})
	scope.BindVars(map[string]string{"APP_DIR": "/tmp/app", "TARGET": "main"})
	bare := NewScope(&Event{Branch: "main"})

	templates := []struct {
		name, src string
		scope     *Scope
		want      string
	}{
		{"set", "${{ vars.APP_DIR }}/deploy", scope, "/tmp/app/deploy"},
		{"unset", "[${{ vars.MISSING }}]", scope, "[]"},
		{"no vars at all", "[${{ vars.APP_DIR }}]", bare, "[]"},
		{"default when unset", `${{ vars.APP_DIR != "" ? vars.APP_DIR : "/srv/app" }}`, bare, "/srv/app"},
		{"ternary default", `${{ vars.MISSING != "" ? vars.MISSING : "/srv/app" }}`, scope, "/srv/app"},
		{"default not used when set", `${{ vars.APP_DIR != "" ? vars.APP_DIR : "/srv/app" }}`, scope, "/tmp/app"},
	}
	for _, tt := range templates {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.RenderString(tt.scope)
			if err != nil || got != tt.want {
				t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
			}
		})
	}

	conditions := []struct {
		src  string
		want bool
	}{
		{`vars.TARGET == event.branch`, true},
		{`vars.TARGET == ""`, false},
		{`vars.MISSING == ""`, true},
	}
	for _, tt := range conditions {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Bool(scope)
			if err != nil || got != tt.want {
				t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
			}
		})
	}
}

// TestSandboxPathsFromVars checks that a writable path may be one
// ${{ vars.NAME }}, resolved per run, and nothing else with ${{ }}.
func TestSandboxPathsFromVars(t *testing.T) {
	got := ResolvePaths([]string{"/srv/app", "${{ vars.APP_DIR }}", "${{vars.UNSET}}"}, map[string]string{"APP_DIR": "/tmp/app"})
	if strings.Join(got, ",") != "/srv/app,/tmp/app" {
		t.Errorf("resolved %q, want /srv/app and /tmp/app", got)
	}
	for _, tt := range []struct{ path, err string }{
		{"${{ vars.APP_DIR }}", ""},
		{"/srv/${{ vars.APP }}", `sandbox writable "/srv/${{ vars.APP }}": write the path out, or give it as one ${{ vars.NAME }}`},
		{"${{ event.repo }}", `sandbox writable "${{ event.repo }}": write the path out`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			src := "on: {dispatch: {}}\nsandbox: {writable: ['" + tt.path + "']}\nsteps: [{run: 'true'}]\n"
			_, err := Parse("w.yaml", []byte(src), nil)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}
