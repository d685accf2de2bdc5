package web

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// newMarkdown is the renderer of step summaries ($HOOKFLOW_STEP_SUMMARY):
// CommonMark with GitHub's tables, strikethrough, task lists and bare links.
//
// Its HTML is put into pages as it is, so it relies on goldmark's defaults,
// which are never relaxed here (no html.WithUnsafe): raw HTML, block or
// inline, is left out; javascript:, vbscript:, file: and data: URLs (but
// data: images) are dropped from links and images; attributes cannot be
// written in the text. Table alignment is an attribute, since the pages'
// Content-Security-Policy refuses inline styles.
func newMarkdown() goldmark.Markdown {
	return goldmark.New(goldmark.WithExtensions(
		extension.Linkify,
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		extension.Strikethrough,
		extension.TaskList,
	))
}

// markdown renders a step summary as HTML for a page.
func (u *UI) markdown(src string) template.HTML {
	if src == "" {
		return ""
	}
	var buf bytes.Buffer
	if err := u.md.Convert([]byte(src), &buf); err != nil {
		// Rendering into a buffer fails only on a bug; show the text.
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(buf.String()) // safe by newMarkdown's settings
}
