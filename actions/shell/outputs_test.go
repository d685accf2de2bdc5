package shell

import (
	"maps"
	"strings"
	"testing"
)

func TestParseOutputs(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string // substring of the error; "" means no error
	}{
		{name: "single line", in: "image=web:1\n", want: map[string]string{"image": "web:1"}},
		{name: "no final newline", in: "a=1", want: map[string]string{"a": "1"}},
		{name: "empty file", in: "", want: map[string]string{}},
		{name: "empty value", in: "a=\n", want: map[string]string{"a": ""}},
		{name: "value keeps = and <<", in: "url=http://x/?a=b<<c\n", want: map[string]string{"url": "http://x/?a=b<<c"}},
		{name: "names with _ - and digits", in: "_a-1=x\nB_2=y\n", want: map[string]string{"_a-1": "x", "B_2": "y"}},
		{
			name: "multi-line heredoc",
			in:   "body<<EOF\nline 1\nline 2\nEOF\n",
			want: map[string]string{"body": "line 1\nline 2"},
		},
		{
			name: "heredoc keeps its blank lines",
			in:   "b<<X\n\nmiddle\n\nX\n",
			want: map[string]string{"b": "\nmiddle\n"},
		},
		{name: "empty heredoc", in: "e<<EOF\nEOF\n", want: map[string]string{"e": ""}},
		{name: "heredoc delimiter may hold =", in: "a<<E=F\nv\nE=F\n", want: map[string]string{"a": "v"}},
		{
			name: "several outputs, blank lines and CRLF",
			in:   "a=1\r\n\n   \nb=two words\nc<<END\r\nx\r\ny\r\nEND\r\nd=4\n",
			want: map[string]string{"a": "1", "b": "two words", "c": "x\ny", "d": "4"},
		},
		{name: "later value wins", in: "a=1\na=2\n", want: map[string]string{"a": "2"}},
		{name: "malformed line", in: "a=1\njust some text\n", wantErr: "line 2: not an output"},
		{name: "name starting with digit", in: "1a=x\n", wantErr: `line 1: invalid output name "1a"`},
		{name: "name with a space", in: "ok=1\nmy name=x\n", wantErr: `line 2: invalid output name "my name"`},
		{name: "empty name", in: "=x\n", wantErr: `line 1: invalid output name ""`},
		{name: "name starting with dash", in: "-a=x\n", wantErr: "line 1: invalid output name"},
		{name: "unterminated heredoc", in: "a=1\nbody<<EOF\nline\n", wantErr: "line 2: body<<EOF is not closed"},
		{name: "heredoc without delimiter", in: "body<<\nx\n", wantErr: "line 1: body<< has no delimiter"},
		{name: "error line counts heredoc lines", in: "b<<E\n1\n2\nE\nbad\n", wantErr: "line 5:"},
		{name: "oversized file", in: "a=" + strings.Repeat("x", MaxOutputBytes), wantErr: "larger than 1 MiB"},
		{
			name: "file of exactly the cap",
			in:   "a=" + strings.Repeat("x", MaxOutputBytes-2),
			want: map[string]string{"a": strings.Repeat("x", MaxOutputBytes-2)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOutputs(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("outputs = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRunOutputs checks that Run reads the file the script wrote to
// $HOOKFLOW_OUTPUT, also when the script fails, and reports a bad file.
func TestRunOutputs(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		want     map[string]string
		wantCode int
		wantErr  []string // substrings of the error; none means no error
	}{
		{
			name:   "name=value and heredoc",
			script: "echo image=web:1 >> \"$HOOKFLOW_OUTPUT\"\nprintf 'notes<<EOF\\nfirst\\nsecond\\nEOF\\n' >> \"$HOOKFLOW_OUTPUT\"",
			want:   map[string]string{"image": "web:1", "notes": "first\nsecond"},
		},
		{
			name:     "failed script keeps its outputs",
			script:   "echo partial=yes >> \"$HOOKFLOW_OUTPUT\"\nexit 3",
			want:     map[string]string{"partial": "yes"},
			wantCode: 3,
			wantErr:  []string{"exit code 3"},
		},
		{
			name:    "malformed output file",
			script:  "echo oops >> \"$HOOKFLOW_OUTPUT\"",
			wantErr: []string{"output file: line 1"},
		},
		{
			name:     "failed script and malformed file",
			script:   "echo oops >> \"$HOOKFLOW_OUTPUT\"\nexit 2",
			wantCode: 2,
			wantErr:  []string{"exit code 2", "output file: line 1"},
		},
		{
			name:    "output file replaced by a symbolic link",
			script:  "ln -sf /etc/hostname \"$HOOKFLOW_OUTPUT\"",
			wantErr: []string{"symbolic link"},
		},
		{
			name:    "output file replaced by a FIFO",
			script:  "rm \"$HOOKFLOW_OUTPUT\"\nmkfifo \"$HOOKFLOW_OUTPUT\"",
			wantErr: []string{"not a regular file"},
		},
		{name: "output file removed", script: "rm \"$HOOKFLOW_OUTPUT\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			res, err := runStep(t, mustNew(t, tc.script, ""), s)
			checkErr(t, err, tc.wantErr...)
			if res.ExitCode != tc.wantCode {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tc.wantCode)
			}
			if tc.want != nil {
				checkOutputs(t, res.Outputs, tc.want)
			}
		})
	}
}
