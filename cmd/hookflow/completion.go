package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/workflows"
)

// completeCommand is the hidden command the completion scripts call with the
// words typed so far, the one being completed last; it prints the
// candidates, one a line. The scripts are thin so that every shell
// completes alike, from this one place.
const completeCommand = "__complete"

// completionScripts are the scripts of `hookflow completion SHELL`.
var completionScripts = map[string]string{
	"bash": `# bash completion for hookflow. Load it with: source <(hookflow completion bash)
_hookflow() {
    local IFS=$'\n'
    COMPREPLY=($(hookflow ` + completeCommand + ` "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _hookflow hookflow
`,
	"zsh": `#compdef hookflow
# zsh completion for hookflow. Load it with: source <(hookflow completion zsh),
# or save it as _hookflow in a folder of $fpath.
_hookflow() {
  local -a candidates
  candidates=(${(f)"$(hookflow ` + completeCommand + ` "${(@)words[2,CURRENT]}" 2>/dev/null)"})
  if (( ${#candidates} )); then
    compadd -- "${candidates[@]}"
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_hookflow" ]]; then
  _hookflow "$@"
else
  compdef _hookflow hookflow
fi
`,
	"fish": `# fish completion for hookflow. Load it with: hookflow completion fish | source
function __hookflow_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l candidates (hookflow ` + completeCommand + ` $words (commandline -ct) 2>/dev/null)
    if set -q candidates[1]
        printf '%s\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c hookflow -f -a '(__hookflow_complete)'
`,
}

func cmdCompletion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("completion", "bash|zsh|fish", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stderr, "completion", err)
	}
	if len(pos) != 1 || completionScripts[pos[0]] == "" {
		return usageError(stderr, "completion", fmt.Errorf("name the shell: hookflow completion bash|zsh|fish"))
	}
	io.WriteString(stdout, completionScripts[pos[0]])
	return exitOK
}

// completeTimeout bounds the questions to the server, so that a shell never
// hangs on a server that does not answer.
const completeTimeout = 3 * time.Second

func cmdComplete(ctx context.Context, args []string, stdout, _ io.Writer) int {
	if len(args) == 0 {
		args = []string{""}
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	cur := args[len(args)-1]
	for _, c := range completions(ctx, args[:len(args)-1], cur) {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(stdout, c)
		}
	}
	return exitOK
}

// typed is what the words before the one being completed say.
type typed struct {
	path       []string          // the command, and its subcommand in a group
	positional []string          // the arguments after them
	flags      map[string]string // the flags given, by name without dashes
	pending    string            // the flag whose value is being completed
}

// completions returns the candidates for the word after words.
func completions(ctx context.Context, words []string, cur string) []string {
	t := readTyped(ctx, words)
	switch {
	case t.pending != "":
		return flagValues(ctx, t)
	case strings.HasPrefix(cur, "-") && len(t.path) == 0:
		return []string{"--server", "--token", "-o", "--help"}
	case strings.HasPrefix(cur, "-"):
		return slices.Sorted(maps.Keys(leafFlags(ctx, t.path)))
	case len(t.path) == 0:
		var names []string
		for _, c := range commands() {
			if !c.hidden {
				names = append(names, c.name)
			}
		}
		return names
	case len(t.path) == 1 && groupSubs(t.path[0]) != nil:
		return subNames(t.path[0])
	case len(t.positional) > 0:
		return nil
	}
	switch strings.Join(t.path, " ") {
	case "dispatch":
		return serverWorkflows(ctx, t)
	case "run":
		return localWorkflows(t)
	case "runs show", "runs logs", "runs watch", "runs cancel", "runs rerun":
		return serverRuns(ctx, t)
	case "events show", "events replay":
		return serverEvents(ctx, t)
	case "completion":
		return slices.Sorted(maps.Keys(completionScripts))
	case "help":
		return completions(ctx, nil, "")
	}
	return nil
}

// readTyped reads the command, its flags and its arguments from words.
func readTyped(ctx context.Context, words []string) typed {
	t := typed{flags: map[string]string{}}
	var takesValue map[string]bool
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) > 1 && strings.HasPrefix(w, "-") {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if !hasValue && (slices.Contains(globalFlags, name) || takesValue[flagName(name)]) {
				if i+1 == len(words) {
					t.pending = name
					return t
				}
				i++
				value = words[i]
			}
			t.flags[name] = value
			continue
		}
		switch {
		case len(t.path) == 0, len(t.path) == 1 && groupSubs(t.path[0]) != nil:
			t.path = append(t.path, w)
			takesValue = leafFlags(ctx, t.path)
		default:
			t.positional = append(t.positional, w)
		}
	}
	return t
}

// flagLine is a flag in a command's help: its name, and the kind of its
// value unless it is a switch.
var flagLine = regexp.MustCompile(`(?m)^  (--?[\w-]+)( [\w.]+)?  `)

// leafFlags returns the flags of the command path as they are written
// (--server, -f), and whether each takes a value. The flag sets are built
// by the commands themselves, so their help is where completion reads them.
func leafFlags(ctx context.Context, path []string) map[string]bool {
	if len(path) == 0 {
		return nil
	}
	c, ok := lookupCommand(path[0])
	if !ok || c.hidden || c.name == "help" {
		return nil
	}
	var help bytes.Buffer
	c.run(ctx, append(slices.Clone(path[1:]), "--help"), &help, &help)
	_, flagsPart, _ := strings.Cut(help.String(), "\nFlags:\n")
	flags := map[string]bool{"--help": false}
	for _, m := range flagLine.FindAllStringSubmatch(flagsPart, -1) {
		flags[m[1]] = m[2] != ""
	}
	return flags
}

// subNames are the names of the subcommands of group.
func subNames(group string) []string {
	var names []string
	for _, s := range groupSubs(group) {
		names = append(names, s.name)
	}
	return names
}

// flagValues completes the value of the flag t.pending.
func flagValues(ctx context.Context, t typed) []string {
	switch t.pending {
	case "o":
		return []string{"json", "text"}
	case "workflow":
		return serverWorkflows(ctx, t)
	case "status":
		return []string{workflows.StatusQueued, workflows.StatusRunning, workflows.StatusSucceeded,
			workflows.StatusFailed, workflows.StatusCancelled, workflows.StatusTimedOut, workflows.StatusSkipped}
	case "event":
		if strings.Join(t.path, " ") == "runs list" {
			return serverEvents(ctx, t)
		}
	}
	return nil
}

// fromServer returns what list reads from the server of the command being
// completed; nothing when there is none to ask or it does not answer.
func fromServer(ctx context.Context, t typed, list func(ctx context.Context, api *client.Client) ([]string, error)) []string {
	server, token := t.flags["server"], t.flags["token"]
	api, err := connect(&server, &token)
	if err != nil {
		return nil
	}
	names, err := list(ctx, api)
	if err != nil {
		return nil
	}
	return names
}

// completePage is how many run or event ids completion offers, newest first.
const completePage = 50

func serverWorkflows(ctx context.Context, t typed) []string {
	return fromServer(ctx, t, func(ctx context.Context, api *client.Client) (names []string, err error) {
		l, err := api.ListWorkflows(ctx)
		if err == nil {
			for _, w := range l.Workflows {
				names = append(names, w.Name)
			}
		}
		return names, err
	})
}

func serverRuns(ctx context.Context, t typed) []string {
	return fromServer(ctx, t, func(ctx context.Context, api *client.Client) (ids []string, err error) {
		l, err := api.ListRuns(ctx, client.RunFilter{Page: client.Page{Limit: completePage}})
		if err == nil {
			for _, r := range l.Runs {
				ids = append(ids, r.ID)
			}
		}
		return ids, err
	})
}

func serverEvents(ctx context.Context, t typed) []string {
	return fromServer(ctx, t, func(ctx context.Context, api *client.Client) (ids []string, err error) {
		l, err := api.ListEvents(ctx, client.EventFilter{Page: client.Page{Limit: completePage}})
		if err == nil {
			for _, e := range l.Events {
				ids = append(ids, e.ID)
			}
		}
		return ids, err
	})
}

// localWorkflows are the names of the workflows `hookflow run` would read.
func localWorkflows(t typed) []string {
	dir := t.flags["workflows"]
	if dir == "" {
		dir = "workflows"
	}
	set, ok := loadSet(dir, io.Discard)
	if !ok {
		return nil
	}
	var names []string
	for _, w := range set.Workflows() {
		names = append(names, w.Name)
	}
	return names
}
