package workflows

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// ActionChecker validates `uses:` steps while workflows load; the actions
// registry implements it. It must be safe to call from several goroutines.
type ActionChecker interface {
	// CheckAction returns an error when kind is unknown or with does not suit it.
	// keys are the `with:` keys; rendered is the whole `with:` when it holds no
	// expressions (so it can be validated now), else nil. An unknown key is
	// reported as a *KeyError so that the loader can point at it.
	CheckAction(kind string, keys []string, rendered map[string]any) error
	// URLKeys lists the `with:` keys of kind whose values are URLs: their
	// templates are compiled as URL templates, each value escaped for the part
	// of the URL it stands in. It is nil for an unknown kind.
	URLKeys(kind string) []string
}

// KeyError names a key that is not accepted, with a hint of what is.
type KeyError struct {
	Key  string
	Hint string
}

func (e *KeyError) Error() string { return fmt.Sprintf("unknown key %s%s", quoteText(e.Key), e.Hint) }

// SuggestKey returns a *KeyError for key, hinting at the closest of known.
func SuggestKey(key string, known []string) *KeyError {
	return &KeyError{Key: key, Hint: suggest(key, known)}
}

// cronFields are what a schedule may hold: 5 fields, or 6 with seconds first,
// and descriptors such as @daily and @every 5m.
const cronFields = cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor

// CronParser returns how schedules are read: 5 fields, or 6 with seconds
// first, and descriptors such as @daily and @every 5m.
func CronParser() cron.Parser { return cron.NewParser(cronFields) }

// ProviderNames returns the accepted `provider:` values, in a new slice.
func ProviderNames() []string {
	return []string{"github", "gitlab", "gitea", "forgejo", "bitbucket", "alertmanager", "grafana", "slack", "stripe", "standard", "generic"}
}

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	stepIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	hookPath      = regexp.MustCompile(`^[A-Za-z0-9_.~-]+(/[A-Za-z0-9_.~-]+)*$`)
)

// Parse reads and validates one workflow file. file names it in errors; the
// error, if any, is an ErrorList.
func Parse(file string, data []byte, actions ActionChecker) (*Workflow, error) {
	d := &decoder{file: file, lines: strings.Split(string(data), "\n")}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{File: file, Line: 1, Col: 1, Msg: "empty file: a workflow needs at least `on:` and `steps:`"}}
		}
		return nil, ErrorList{yamlSyntaxError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ErrorList{{File: file, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document: put one workflow in each file"}}
	}
	if err := checkNodes(file, &root); err != nil {
		return nil, err
	}
	w := &Workflow{File: file, Source: data}
	decoded := d.decode(&root, reflect.ValueOf(w).Elem())
	w.Pos = Pos{File: file, Line: 1, Col: 1}
	validate(d, w, &root, actions, decoded)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return w, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntaxError turns yaml.v3's "yaml: line N: msg" into a positioned error.
func yamlSyntaxError(file string, err error) *PosError {
	msg, line := err.Error(), 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
	}
	return &PosError{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + clip(strings.TrimPrefix(msg, "yaml: "), 2*maxEcho)}
}

// validate checks what decoding cannot: required fields, allowed values, and
// the consistency between fields.
//
// After a decoding error (decoded is false) a missing trigger or step list is
// not reported: it is most likely the part that failed to decode.
func validate(d *decoder, w *Workflow, root *yaml.Node, actions ActionChecker, decoded bool) {
	at := func(p Pos, format string, args ...any) {
		if p.File == "" {
			p = w.Pos
		}
		d.errs = append(d.errs, errorAt(p, format, args...))
	}
	top := root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	hasKey := func(key string) bool {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == key {
				return true
			}
		}
		return false
	}
	keyPos := func(key string) Pos {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == key {
				return Pos{File: d.file, Line: top.Content[i].Line, Col: top.Content[i].Column}
			}
		}
		return w.Pos
	}

	if w.Name == "" {
		w.Name = strings.TrimSuffix(filepath.Base(w.File), filepath.Ext(w.File))
	}
	if !namePattern.MatchString(w.Name) {
		at(keyPos("name"), "name %s: use letters, digits, '.', '_' and '-' only", quoteText(w.Name))
	}
	if decoded && len(w.On.Webhook)+len(w.On.Cron) == 0 && w.On.Dispatch == nil {
		at(keyPos("on"), "no trigger: add `on:` with webhook, cron or dispatch")
	}
	for _, h := range w.On.Webhook {
		validateWebhook(h, at)
	}
	for _, c := range w.On.Cron {
		if _, err := CronParser().Parse(c.Schedule); err != nil {
			at(c.Pos, "cron schedule %s: %s (write 5 fields like \"0 3 * * *\", 6 with seconds, or @every 5m)", quoteText(c.Schedule), errText(err))
		}
		if c.Timezone != "" {
			if _, err := time.LoadLocation(c.Timezone); err != nil {
				at(c.Pos, "cron timezone %s is not known: use an IANA name like Europe/Berlin or UTC", quoteText(c.Timezone))
			}
		}
	}
	if w.On.Dispatch != nil {
		for _, in := range w.On.Dispatch.Inputs {
			validateInput(in, at)
		}
	}
	if w.If != nil {
		checkKind(w.If, at, reflect.Bool)
	}
	if w.ForEach != nil {
		checkKind(w.ForEach, at, reflect.Slice, reflect.Array)
	}
	if c := w.Concurrency; c != nil {
		if c.Group == nil || c.Group.Source == "" {
			at(c.Pos, "concurrency: group is required")
		}
		if c.Pending == "" {
			c.Pending = PendingAll
		}
		if c.Pending != PendingAll && c.Pending != PendingLatest {
			at(c.Pos, "concurrency.pending %s: use all or latest", quoteText(c.Pending))
		}
	}
	if c := w.Cooldown; c != nil {
		if c.Key == nil || c.Key.Source == "" || c.Period <= 0 {
			at(c.Pos, "cooldown: key and a period (like 15m) are required")
		}
	}
	w.OnInterrupt = oneOf(w.OnInterrupt, keyPos("on_interrupt"), at, "on_interrupt", InterruptFail, InterruptRequeue)
	w.KeepWorkspace = oneOf(w.KeepWorkspace, keyPos("keep_workspace"), at, "keep_workspace", KeepNever, KeepOnFailure, KeepAlways)
	if w.Timeout == 0 {
		w.Timeout = Duration(DefaultTimeout)
	}
	validateSandbox(w.Sandbox, at)
	validateReport(w, at)
	if w.Defaults.Shell != "" {
		if err := checkShell(w.Defaults.Shell); err != nil {
			at(keyPos("defaults"), "defaults.shell: %s", err)
		}
	}
	hasJobs := hasKey("jobs")
	switch {
	case hasJobs && hasKey("steps"):
		at(keyPos("jobs"), "a workflow has either steps: or jobs:, not both: move the steps into a job under jobs:")
	case decoded && hasJobs && len(w.Jobs) == 0:
		at(keyPos("jobs"), "no jobs: add a job under jobs:, like build: {steps: [{run: make}]}")
	case decoded && !hasJobs && len(w.Steps) == 0:
		at(keyPos("steps"), "no steps: add `steps:` with at least one `run:` or `uses:` step, or `jobs:` with jobs that have steps")
	}
	ids := map[string]bool{}
	for i, s := range w.Steps {
		if s == nil {
			continue // failed to decode; already reported
		}
		s.Index = i
		validateStep(d, s, w.Defaults.Shell, ids, at, actions)
	}
	validateJobs(d, w, actions, at, decoded)
	if len(w.Jobs) == 0 {
		w.Jobs = []*Job{{ID: MainJob, Steps: w.Steps, Implicit: true, Pos: keyPos("steps")}}
	}
	jobIDs := make([]string, len(w.Jobs))
	for i, j := range w.Jobs {
		jobIDs[i] = j.ID
	}
	for _, j := range w.Jobs {
		checkNeedsReads(j, jobIDs, at)
	}
	w.Secrets = collectSecrets(w)
}

func validateWebhook(h *Webhook, at func(Pos, string, ...any)) {
	h.Path = strings.TrimPrefix(h.Path, "/")
	if !hookPath.MatchString(h.Path) {
		at(h.Pos, "webhook path %s: use letters, digits, '.', '_', '-' and '/' (served at /hooks/<path>)", quoteText(h.Path))
	}
	if h.Provider == "" {
		h.Provider = "generic"
	}
	if providers := ProviderNames(); !contains(providers, h.Provider) {
		at(h.Pos, "webhook provider %s is not known: use one of %s", quoteText(h.Provider), strings.Join(providers, ", "))
	}
	if h.Signature != nil && h.Provider != "generic" {
		at(h.Pos, "webhook signature: only the generic provider is configured this way; %s signs its own way", clip(h.Provider, maxEcho))
	}
	if h.BasicAuth != nil && h.Provider != "generic" && h.Provider != "alertmanager" {
		at(h.Pos, "webhook basic_auth: only the generic and alertmanager providers take it")
	}
	if s := h.Signature; s != nil {
		if h.Secret == nil {
			at(h.Pos, "webhook signature needs a secret")
		}
		s.Algorithm = strings.ToLower(s.Algorithm)
		if s.Algorithm == "" {
			s.Algorithm = "sha256"
		}
		if s.Encoding == "" {
			s.Encoding = "hex"
		}
		if s.Header == "" {
			at(h.Pos, "webhook signature.header: name the header that carries the signature")
		}
		if !contains([]string{"sha1", "sha256", "sha512"}, s.Algorithm) {
			at(h.Pos, "webhook signature.algorithm %s: use sha1, sha256 or sha512", quoteText(s.Algorithm))
		}
		if s.Encoding != "hex" && s.Encoding != "base64" {
			at(h.Pos, "webhook signature.encoding %s: use hex or base64", quoteText(s.Encoding))
		}
	}
	if len(h.Methods) == 0 {
		h.Methods = []string{http.MethodPost}
	}
	for i, m := range h.Methods {
		h.Methods[i] = strings.ToUpper(m)
		if !contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}, h.Methods[i]) {
			at(h.Pos, "webhook method %s: use GET, POST, PUT, PATCH, DELETE or HEAD", quoteText(m))
		}
	}
	switch h.Respond {
	case "":
		h.Respond = RespondAsync
	case RespondAsync, RespondSync:
	default:
		at(h.Pos, "webhook respond %s: use async or sync", quoteText(h.Respond))
	}
	if h.SyncTimeout == 0 {
		h.SyncTimeout = Duration(DefaultSyncTimeout)
	}
}

func validateInput(in *Input, at func(Pos, string, ...any)) {
	if !stepIDPattern.MatchString(in.Name) {
		at(in.Pos, "input name %s: use letters, digits, '_' and '-'", quoteText(in.Name))
	}
	switch in.Type {
	case InputString, InputNumber, InputBoolean:
	case InputChoice:
		if len(in.Options) == 0 {
			at(in.Pos, "input %s: a choice needs options", clip(in.Name, maxEcho))
		}
	default:
		at(in.Pos, "input %s: type %s: use string, number, boolean or choice", clip(in.Name, maxEcho), quoteText(in.Type))
	}
	if in.Default != nil {
		if _, err := in.Coerce(in.Default); err != nil {
			at(in.Pos, "input %s: default: %s", clip(in.Name, maxEcho), errText(err))
		}
	}
}

func validateSandbox(s *Sandbox, at func(Pos, string, ...any)) {
	if s == nil {
		return
	}
	if s.Level != "" && !contains([]string{LevelAuto, LevelIsolated, LevelProcess}, s.Level) {
		at(s.Pos, "sandbox level %s: use auto, isolated or process", quoteText(s.Level))
	}
	if s.Pids < 0 {
		at(s.Pos, "sandbox pids must not be negative")
	}
	for _, p := range s.Writable {
		if strings.Contains(p, "${{") && !varPath.MatchString(p) {
			at(s.Pos, "sandbox writable %s: write the path out, or give it as one ${{ vars.NAME }}", quoteText(p))
		}
	}
}

func validateStep(d *decoder, s *Step, defaultShell string, ids map[string]bool, at func(Pos, string, ...any), actions ActionChecker) {
	if s.ID != "" {
		if !stepIDPattern.MatchString(s.ID) {
			at(s.Pos, "step id %s: start with a letter or _, then letters, digits, _ and -", quoteText(s.ID))
		}
		if ids[s.ID] {
			at(s.Pos, "step id %s is used twice", quoteText(s.ID))
		}
		ids[s.ID] = true
	}
	switch {
	case s.Run != "" && s.Uses != "":
		at(s.Pos, "a step has either run: or uses:, not both")
		return
	case s.Run == "" && s.Uses == "":
		at(s.Pos, "a step needs run: (a script) or uses: (an action such as http)")
	case s.Uses == RunAction:
		// Its with: would be rendered into the script.
		at(s.Pos, "uses: %s: write the script under run: and pass values to it through env:", RunAction)
	case s.Run != "":
		if i := strings.Index(s.Run, "${{"); i >= 0 {
			at(d.scriptPos(s.runNode, s.Run[:i]), "${{ }} inside run: would splice data into the script; pass the value through env: (e.g. env: {REF: \"${{ event.ref }}\"}) and use \"$REF\" in the script")
		}
		d.scriptHabits(s)
		if s.With != nil {
			at(s.With.Pos, "with: goes with uses:, not run:; pass values to a script through env:")
		}
	}
	if s.Shell != "" {
		if s.Run == "" {
			at(s.Pos, "shell: goes with run:")
		} else if err := checkShell(s.Shell); err != nil {
			at(s.Pos, "shell: %s", err)
		}
	}
	badShell := false // reported above, or at defaults.shell
	switch {
	case s.Run != "":
		sh := cmp.Or(s.Shell, defaultShell)
		s.Action, s.Params = RunAction, runParams(s.Pos, s.Run, sh)
		badShell = sh != "" && checkShell(sh) != nil
	case s.Uses != RunAction:
		s.Action, s.Params = s.Uses, s.With
	}
	if s.Action != "" && actions != nil && !badShell {
		checkAction(d, s, actions)
	}
	if s.If != nil {
		checkKind(s.If, at, reflect.Bool)
	}
	if r := s.Retry; r != nil {
		if r.Attempts < 1 {
			at(s.Pos, "retry.attempts must be at least 1 (the total number of tries)")
		}
		if r.Backoff != 0 && r.Backoff < 1 {
			at(s.Pos, "retry.backoff must be at least 1")
		}
	}
	validateSandbox(s.Sandbox, at)
}

// checkAction asks the action registry about a step's action and its
// settings.
func checkAction(d *decoder, s *Step, actions ActionChecker) {
	label := "uses: " + clip(s.Action, maxEcho)
	if s.Run != "" {
		label = "run"
	} else if hint := findHabit(habitUses, habitSite{written: s.Action}); hint != "" {
		d.errs = append(d.errs, errorAt(s.Pos, "%s: %s", label, hint))
		return
	}
	var keys []string
	var rendered map[string]any
	if p := s.Params; p != nil {
		if p.kind != yaml.MappingNode {
			d.errs = append(d.errs, errorAt(p.Pos, "with: expected a mapping of settings"))
			return
		}
		keys = p.Keys()
		compileURLs(d, s, label, actions.URLKeys(s.Action))
		if p.IsLiteral() {
			v, _ := p.Render(nil)
			rendered = v.(map[string]any)
		}
	} else {
		rendered = map[string]any{}
	}
	err := actions.CheckAction(s.Action, keys, rendered)
	if err == nil {
		return
	}
	p := s.Pos
	if s.Params != nil {
		p = s.Params.Pos
	}
	var ke *KeyError
	if errors.As(err, &ke) && s.Params != nil {
		if f := s.Params.field(ke.Key); f != nil {
			p = f.Pos
		}
		d.errs = append(d.errs, errorAt(p, "%s: with: %s", label, ke))
		return
	}
	d.errs = append(d.errs, errorAt(p, "%s: %s", label, errText(err)))
}

// compileURLs compiles the templates under the URL-valued keys of a step's
// settings as URL templates.
func compileURLs(d *decoder, s *Step, label string, keys []string) {
	for _, key := range keys {
		f := s.Params.field(key)
		if f == nil || f.template == nil {
			continue
		}
		if err := f.template.compileURL(key); err != nil {
			d.errs = append(d.errs, errorAt(f.template.Pos, "%s: with: %s: %s", label, key, err))
		}
	}
}

// runParams are the settings of a run: step's action (RunAction): its script
// and shell, literal values that no template reaches.
func runParams(pos Pos, script, shell string) *Value {
	literal := func(key, v string) valueField {
		return valueField{key: key, value: &Value{Pos: pos, literal: v, kind: yaml.ScalarNode}}
	}
	return &Value{Pos: pos, kind: yaml.MappingNode, mapping: []valueField{literal("script", script), literal("shell", shell)}}
}

// checkShell validates a shell: value.
func checkShell(sh string) error {
	switch sh {
	case "bash", "sh", "python3":
		return nil
	}
	if strings.Contains(sh, "{file}") {
		return nil
	}
	return fmt.Errorf("%s: use bash, sh, python3, or a command containing {file}", quoteText(sh))
}

// checkKind reports an expression whose static type cannot be one of kinds.
func checkKind(e *Expr, at func(Pos, string, ...any), kinds ...reflect.Kind) {
	k := e.resultKind()
	if k == reflect.Interface || contains(kinds, k) {
		return
	}
	want := "true or false"
	if kinds[0] != reflect.Bool {
		want = "a list"
	}
	at(e.Pos, "expression %s is %s, not %s", quoteText(e.Source), k, want)
}

func oneOf(v string, p Pos, at func(Pos, string, ...any), key string, allowed ...string) string {
	if v == "" {
		return allowed[0]
	}
	if !contains(allowed, v) {
		at(p, "%s %s: use %s", key, quoteText(v), strings.Join(allowed, " or "))
	}
	return v
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// collectSecrets lists every secret a workflow reads, so that a run can mask
// their values in logs.
func collectSecrets(w *Workflow) []string {
	seen := map[string]bool{}
	var names []string
	add := func(list []string) {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	addTemplate := func(t *Template) {
		if t != nil {
			add(t.SecretNames())
		}
	}
	addExpr := func(e *Expr) {
		if e != nil {
			add(e.secrets)
		}
	}
	for _, h := range w.On.Webhook {
		addTemplate(h.Secret)
		if h.BasicAuth != nil {
			addTemplate(h.BasicAuth.Username)
			addTemplate(h.BasicAuth.Password)
		}
	}
	addExpr(w.If)
	addExpr(w.ForEach)
	for _, v := range w.Env {
		addTemplate(v.Value)
	}
	for _, j := range w.Jobs {
		j.walkExprs(addExpr, addTemplate)
		j.Secrets = jobSecrets(w, j)
	}
	return names
}

// jobSecrets lists the secrets job j reads: its own and those of the
// workflow's env, which it renders. A runner on another host is sent only
// these (SPEC §12).
func jobSecrets(w *Workflow, j *Job) []string {
	seen := map[string]bool{}
	names := []string{}
	add := func(list []string) {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	tmpl := func(t *Template) {
		if t != nil {
			add(t.SecretNames())
		}
	}
	for _, v := range w.Env {
		tmpl(v.Value)
	}
	j.walkExprs(func(e *Expr) {
		if e != nil {
			add(e.secrets)
		}
	}, tmpl)
	return names
}
