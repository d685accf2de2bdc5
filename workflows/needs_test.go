package workflows

import (
	"slices"
	"testing"
)

func TestNeedsRead(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{`needs.build.result == "success"`, []string{"build"}},
		{`needs.build.outputs.image != "" && needs["test"].result == "success" || needs.build.outputs.tag == ""`, []string{"build", "test"}},
		{`needs?.lint?.result == "failure"`, []string{"lint"}},
		{`all(["a"], {needs.deploy.outputs[#] != ""})`, []string{"deploy"}},
		{`needs[event.ref] == nil`, nil},
		{`steps.needs.outputs.x == "" && event.body.needs == nil`, nil},
		{`success()`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.NeedsRead(); !slices.Equal(got, tt.want) {
				t.Errorf("NeedsRead() = %q, want %q", got, tt.want)
			}
		})
	}

	tmpl, err := ParseTemplate("${{ needs.b.outputs.x }}-${{ needs.a.result }}-${{ needs.b.result }}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tmpl.NeedsRead(), []string{"b", "a"}; !slices.Equal(got, want) {
		t.Errorf("template NeedsRead() = %q, want %q", got, want)
	}
	if got := NewLiteral("needs.a").NeedsRead(); got != nil {
		t.Errorf("literal NeedsRead() = %q, want none", got)
	}
	var none *Expr
	if got := none.NeedsRead(); got != nil {
		t.Errorf("nil NeedsRead() = %q", got)
	}
}
