package workflows

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// callScope is the scope the call-form tests evaluate in.
func callScope() *Scope {
	return NewScope(&Event{
		Ref: "refs/heads/Release/1.2", Branch: "Release/1.2", Changed: []string{"src/a.go", "README.md"},
		Alerts: []Alert{{Status: "firing"}},
		Body: map[string]any{
			"labels": []any{"Bug", "ui", 3.0},
			"title":  "Fix the Login page",
			"n":      7.0,
			"obj":    map[string]any{"a": 1.0},
			"f":      "{0}+{1}",
			"bad":    "{2}",
		},
	})
}

// TestCallForms evaluates each GitHub Actions function on the kinds of
// values GitHub documents for it.
func TestCallForms(t *testing.T) {
	tests := []valueCase{
		// contains: membership in a list, a substring in a string, without
		// regard to case.
		{`contains(event.body.labels, "bug")`, true},
		{`contains(event.body.labels, "feature")`, false},
		{`contains(event.body.labels, 3)`, true},
		{`contains(event.changed, "README.md")`, true},
		{`contains(event.changed, "src")`, false},
		{`contains(["a", "b"], "B")`, true},
		{`contains(event.body.title, "login")`, true},
		{`contains(event.body.title, "logout")`, false},
		{`contains("abc123", 12)`, true},
		{`contains(event.body.missing, "x")`, false},
		{`contains(event.body.missing, "")`, true},
		// startsWith, endsWith: strings, without regard to case.
		{`startsWith(event.ref, "refs/heads/release/")`, true},
		{`startsWith(event.ref, "refs/tags/")`, false},
		{`endsWith(event.body.title, "PAGE")`, true},
		{`endsWith(event.body.title, "Login")`, false},
		{`startsWith(event.body.n, 7)`, true},
		{`endsWith("x", "")`, true},
		// format: {N} is the Nth argument after the format; {{ and }} are
		// braces.
		{`format("{0}-{1}", event.branch, 2)`, "Release/1.2-2"},
		{`format("{1}{0}{1}", "a", "b")`, "bab"},
		{`format("{{0}} is {0}", "zero")`, "{0} is zero"},
		{`format("}}{{")`, "}{"},
		{`format("no refs")`, "no refs"},
		{`format("{0}", event.body.missing)`, ""},
		{`format("{0}", event.body.labels)`, `["Bug","ui",3]`},
		{`format(event.body.f, "a", "b")`, "a+b"},
		// join: the elements' text with a separator, "," by default; a
		// string as it is.
		{`join(event.changed, "; ")`, "src/a.go; README.md"},
		{`join(event.changed)`, "src/a.go,README.md"},
		{`join(event.body.labels)`, "Bug,ui,3"},
		{`join(event.branch, "-")`, "Release/1.2"},
		{`join([])`, ""},
		{`join(event.body.missing)`, ""},
	}
	checkValues(t, tests)
}

// TestCallFormsBesideOperators evaluates the call forms next to expr's infix
// operators of the same names, which keep their meaning (case matters), and
// checks that only calls are renamed: not string literals, comments or
// member names that read "contains(".
func TestCallFormsBesideOperators(t *testing.T) {
	tests := []valueCase{
		{`contains("Hello", "ell") && "Hello" contains "ell"`, true},
		{`contains("Hello", "ELL")`, true},
		{`"Hello" contains "ELL"`, false},
		{`startsWith(event.branch, "release/")`, true},
		{`event.branch startsWith "release/"`, false},
		{`event.branch startsWith "Release/"`, true},
		{`endsWith(event.branch, "1.2") == (event.branch endsWith "1.2")`, true},
		{`event.branch endsWith ("1.2")`, true},
		{`event.branch not startsWith ("x")`, true},
		{`not contains(event.branch, "x")`, true},
		{`!startsWith(event.branch, "x") and contains(event.branch, "/")`, true},
		{`event.changed | join("+")`, "src/a.go+README.md"},
		{`event.branch | startsWith("release")`, true},
		{`"contains(" + 'startsWith(x, y)' + ` + "`endsWith(`", "contains(startsWith(x, y)endsWith("},
		{`contains("a contains(b)", "contains(b") // contains(x`, true},
		{`event.body.contains ?? "none"`, "none"},
		{`{"contains": 1}.contains`, 1},
		{`len(filter(event.body.labels, contains(["bug", "ui"], #)))`, 2},
		{`all(event.alerts, .status startsWith "fir")`, true},
		{`join(map(event.changed, upper(#)))`, "SRC/A.GO,README.MD"},
		{`join(["a", "b"], "") == join(["a", "b"], "")`, true},
	}
	checkValues(t, tests)
}

// checkValues compiles and evaluates each expression in callScope.
func checkValues(t *testing.T, tests []valueCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if e.Source != tt.src {
				t.Errorf("Source = %q, want it as written", e.Source)
			}
			got, err := e.Eval(callScope())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("= %#v, want %#v", got, tt.want)
			}
		})
	}
}

// valueCase is an expression and its value in callScope.
type valueCase struct {
	src  string
	want any
}

// TestCallFormErrors checks the errors of the call forms: at load, in the
// names the user wrote and at the places they wrote them; at run time, for
// values GitHub gives no text.
func TestCallFormErrors(t *testing.T) {
	load := []struct{ src, want string }{
		{`contains("a")`, "not enough arguments to call contains (1:1)\n | contains(\"a\")\n | ^"},
		{`startsWith("a", "b", "c")`, "too many arguments to call startsWith (1:1)"},
		{`1 + endsWith("a", "b")`, "invalid operation: + (mismatched types int and bool) (1:3)"},
		{`contains(event.ref, "x") && evnt.ref`, "unknown name evnt (1:29)\n | contains(event.ref, \"x\") && evnt.ref\n | ............................^"},
		{`startsWith(event.ref, evnt)`, "unknown name evnt (1:23)"},
		{`format("{0}-{1}", "a")`, "format: {1} needs 2 arguments after the format, got 1 (1:8)"},
		{`format("{x}")`, "format: {x} is not an argument reference like {0} (write {{ for a brace) (1:8)"},
		{`format("a}b")`, "format: a lone } (write }} for a brace) (1:8)"},
		{`format("{0")`, "format: { without a closing } (write {{ for a brace) (1:8)"},
		{`format(1)`, "cannot use int as argument (type string) to call format  (1:8)"},
		{`join(["a"], 1)`, "cannot use int as argument (type string) to call join  (1:13)"},
	}
	for _, tt := range load {
		t.Run(tt.src, func(t *testing.T) {
			_, err := compileExpr(tt.src)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
	run := []struct{ src, want string }{
		{`contains(event.body.obj, "a")`, "contains: the first argument is a map, not a list or a string (1:1)"},
		{`contains(event.body.title, event.body.labels)`, "contains: the item is a list, not a string (1:1)"},
		{`startsWith(event.body.labels, "a")`, "startsWith: the value is a list, not a string (1:1)"},
		{`endsWith("a", event.body.obj)`, "endsWith: the suffix is a map, not a string (1:1)"},
		{`join(event.body.obj)`, "join: the first argument is a map, not a list or a string (1:1)"},
		{`format(event.body.bad, "a")`, "format: {2} needs 3 arguments after the format, got 1 (1:1)"},
	}
	for _, tt := range run {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Eval(callScope()); err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCallFormPositionsInFiles checks that an error in an expression that
// uses call forms is placed in the file where the user wrote it.
func TestCallFormPositionsInFiles(t *testing.T) {
	ifLine := `if: contains(event.changed, "x") && startsWith(evnt.ref, "y")`
	envLine := `      A: "${{ format('{0}', event.ref) }} ${{ endsWith(event.rf, 'x') }}"`
	src := "on: {webhook: {path: p}}\n" + ifLine + "\nsteps:\n  - run: \"true\"\n    env:\n" + envLine + "\n"
	_, err := Parse("calls.yaml", []byte(src), nil)
	want := fmt.Sprintf("calls.yaml:2:%d: expression: unknown name evnt\n"+
		"calls.yaml:6:%d: expression: type workflows.Event has no field rf",
		strings.Index(ifLine, "evnt")+1, strings.Index(envLine, ".rf")+2)
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestCallFormsSpendTheBudget checks that contains and join pay for the
// lists they walk, like expr's builtins.
func TestCallFormsSpendTheBudget(t *testing.T) {
	big := megabyteArray(t)
	for _, filter := range []string{`contains(event.body, 11)`, `len(join(event.body)) > 0`, `event.body | contains(11)`} {
		t.Run(filter, func(t *testing.T) {
			w := mustParse(t, "budget", "on: {webhook: {path: p}}\nif: '"+filter+"'\nsteps: [{run: 'true'}]\n")
			v := w.Decide(NewScope(&Event{Path: "p", Method: "POST", Body: big}))
			if v.Run || v.Reason != "if: expression exceeded its evaluation budget" {
				t.Errorf("verdict run=%v reason=%q, want the budget exceeded", v.Run, v.Reason)
			}
			v = w.Decide(NewScope(&Event{Path: "p", Method: "POST", Body: big[:1000]}))
			if v.Reason == "if: expression exceeded its evaluation budget" {
				t.Errorf("1000 items exceeded the budget")
			}
		})
	}
}
