package workflows

import (
	"fmt"
	"strings"
	"testing"
)

// TestGlobLiteralsCompiledAtLoad checks that the pattern literals of changed()
// and glob() are compiled with their expression, and that computed patterns
// are left for run time: the compiled program holds, for each call, a matcher
// for each literal pattern and none for a computed one.
func TestGlobLiteralsCompiledAtLoad(t *testing.T) {
	tests := []struct{ src, want string }{
		{`changed("deploy/**", "go.mod")`, "[[true true]]"},
		{`changed("a/*", event.body.p)`, "[[true false]]"},
		{`changed()`, "[[]]"},
		{`glob(event.branch, "release/*")`, "[[true]]"},
		{`glob(event.branch, event.body.p)`, "[[false]]"},
		{`any(event.changed, glob(#, "*.go")) || changed("x")`, "[[true] [true]]"},
		{`"x" | glob("?")`, "[[true]]"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got := [][]bool{}
			for _, c := range e.program.Constants {
				if l, ok := c.(loadedGlobs); ok {
					call := []bool{}
					for _, m := range l {
						call = append(call, m != nil)
					}
					got = append(got, call)
				}
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("compiled at load %v, want %s", got, tt.want)
			}
		})
	}
}

// TestChangedAndGlob evaluates changed() and glob() with literal and computed
// patterns. A computed pattern that is not a glob makes glob() fail and
// changed() select nothing, as before patterns were compiled at load.
func TestChangedAndGlob(t *testing.T) {
	ev := &Event{Branch: "release/1.2", Changed: []string{"deploy/app.yaml", "README.md"},
		Body: map[string]any{"dir": "deploy/**", "bad": "[", "n": 1.0}}
	tests := []struct {
		src     string
		want    any
		wantErr string
	}{
		{`changed("deploy/**")`, true, ""},
		{`changed("src/**", "go.mod")`, false, ""},
		{`changed("src/**", "*.md")`, true, ""},
		{`changed(event.body.dir)`, true, ""},
		{`changed(event.body.bad, "*.md")`, true, ""},
		{`changed(event.body.bad)`, false, ""},
		{`changed(event.body.absent)`, false, ""},
		{`changed(event.body.n)`, nil, "changed: a pattern is float64, not a string"},
		{`glob(event.branch, "release/*")`, true, ""},
		{`glob(event.branch, "release/[!0-9]*")`, false, ""},
		{`glob(event.branch, event.body.dir)`, false, ""},
		{`glob("deploy/a/b", event.body.dir)`, true, ""},
		{`glob(event.branch, event.body.bad)`, nil, `glob: bad glob "[": [ without a closing ]`},
		{`glob(event.branch, event.body.absent)`, nil, "glob: the pattern is <nil>, not a string"},
		{`glob(event.body.absent, "*")`, nil, "glob: the value is <nil>, not a string"},
		{`filter(event.changed, glob(#, "**/*.yaml"))`, []any{"deploy/app.yaml"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Eval(NewScope(ev))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestGlobCallErrors checks the load errors of changed() and glob(): a bad
// literal pattern, placed at the literal, and type errors under the names
// the user wrote.
func TestGlobCallErrors(t *testing.T) {
	for src, want := range map[string]string{
		`changed("[")`:                       `changed: bad glob "[": [ without a closing ] (1:9)`,
		`changed("ok/**", "x[z-a]")`:         `changed: bad glob "x[z-a]": invalid character class range: z-a (1:18)`,
		`event.ref != "" && glob("a", "[]")`: `glob: bad glob "[]": empty character class [] (1:30)`,
		`"a" | glob("[")`:                    `glob: bad glob "[": [ without a closing ] (1:12)`,
		`changed(1)`:                         `cannot use int as argument (type string) to call changed  (1:9)`,
		`glob(1, "a")`:                       `cannot use int as argument (type string) to call glob  (1:6)`,
		`glob("a")`:                          `not enough arguments to call glob (1:1)`,
		`glob("a", "b", "c")`:                `too many arguments to call glob (1:1)`,
		`changed("a") + 1`:                   `invalid operation: + (mismatched types bool and int) (1:14)`,
	} {
		_, err := compileExpr(src)
		if err == nil {
			t.Errorf("%s compiled", src)
			continue
		}
		if got := firstLine(err.Error()); got != want {
			t.Errorf("%s: error %q, want %q", src, got, want)
		}
	}
}

// TestRuntimeGlobCompiledOncePerEvaluation: a pattern computed at run time
// and applied again within one evaluation (to each item of a list) is
// compiled once; another evaluation compiles it anew.
func TestRuntimeGlobCompiledOncePerEvaluation(t *testing.T) {
	// A pattern that compiles to a regular expression, a pointer: equal
	// matchers are the same compiled one.
	const pattern = "deploy/*/v?.yaml"
	s := NewScope(nil).withBudget()
	first, err := s.runtimeGlob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.runtimeGlob(pattern); again != first {
		t.Error("the same pattern was compiled again within one evaluation")
	}
	if other, _ := s.runtimeGlob("src/*"); other == first || !other.MatchString("src/a") {
		t.Error("another pattern got the first one's matcher")
	}
	if _, err := s.runtimeGlob("["); err == nil {
		t.Error("a bad pattern compiled")
	}
	if next, _ := NewScope(nil).withBudget().runtimeGlob(pattern); next == first {
		t.Error("another evaluation shares the matcher")
	}
}
