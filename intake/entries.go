package intake

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/workflows"
)

// Tick is one firing of a workflow's cron schedule.
type Tick struct {
	Workflow *workflows.Workflow
	Schedule string
	At       time.Time
}

func (t *Tick) decide(in *Intake, _ *workflows.Set, _ bool) (*Decision, error) {
	at := t.At.UTC().Truncate(time.Second)
	ev := &workflows.Event{ID: ulid.Make().String(), Trigger: workflows.TriggerCron, Type: "schedule", Name: "schedule",
		ReceivedAt: at, Schedule: t.Schedule, ScheduledAt: at}
	// The key makes a tick fire once even if two nodes schedule it.
	key := fmt.Sprintf("cron/%s/%s/%d", t.Workflow.Name, t.Schedule, at.Unix())
	return &Decision{Event: ev, Verdicts: []workflows.Verdict{t.Workflow.Decide(in.scope(ev))}, DedupKey: key}, nil
}

// Manual is a start by hand (SPEC §8 dispatch): a workflow, its inputs and who
// asked. A workflow that its filters do not start is a conflict, not a skip.
type Manual struct {
	Workflow string
	Inputs   map[string]any
	Actor    string
	// AnyTrigger lets a workflow without a dispatch trigger start, as
	// `hookflow run` does for a cron workflow.
	AnyTrigger bool
}

func (m *Manual) decide(in *Intake, set *workflows.Set, _ bool) (*Decision, error) {
	w, ok := set.Lookup(m.Workflow)
	if !ok {
		return nil, workflows.Errorf(workflows.ENotFound, "no workflow %q", m.Workflow)
	}
	if w.On.Dispatch == nil && !m.AnyTrigger {
		return nil, workflows.Errorf(workflows.EConflict, "workflow %s has no dispatch trigger: add `on: {dispatch: {}}`", w.Name)
	}
	resolved, err := resolveInputs(w, m.Inputs)
	if err != nil {
		return nil, err
	}
	ev := &workflows.Event{ID: ulid.Make().String(), Trigger: workflows.TriggerDispatch, Type: "dispatch", Name: "dispatch",
		ReceivedAt: in.now().UTC(), Inputs: resolved, Actor: m.Actor}
	scope := in.scope(ev)
	scope.Inputs = resolved
	v := w.Decide(scope)
	if !v.Run {
		return nil, workflows.Errorf(workflows.EConflict, "workflow %s did not start: %s", w.Name, v.Reason)
	}
	return &Decision{Event: ev, Verdicts: []workflows.Verdict{v}}, nil
}

// resolveInputs checks given against w's dispatch inputs and fills in their
// defaults. A workflow without a dispatch trigger takes no inputs.
func resolveInputs(w *workflows.Workflow, given map[string]any) (map[string]any, error) {
	resolved, err := w.On.Dispatch.ResolveInputs(given)
	if err != nil && (w.On.Dispatch != nil || len(given) > 0) {
		return nil, err
	}
	return resolved, nil
}

// Replay matches a stored event again, as a new event with trigger `replay`,
// against the active workflows: those on its path for a webhook delivery, else
// those that had a verdict on it.
type Replay struct {
	// Data is the stored event, as JSON.
	Data []byte
	// Trigger is the stored event's trigger.
	Trigger string
	// Workflows names the workflows that had a verdict on the stored event.
	Workflows []string
}

func (r *Replay) decide(in *Intake, set *workflows.Set, _ bool) (*Decision, error) {
	ev := &workflows.Event{}
	if err := json.Unmarshal(r.Data, ev); err != nil {
		return nil, fmt.Errorf("stored event: %w", err)
	}
	ev.ID, ev.Trigger, ev.ReceivedAt = ulid.Make().String(), workflows.TriggerReplay, in.now().UTC()
	scope := in.scope(ev)
	scope.Inputs = ev.Inputs
	dec := &Decision{Event: ev}
	if r.Trigger == workflows.TriggerWebhook || ev.Path != "" {
		dec.Verdicts = set.Match(scope)
		return dec, nil
	}
	for _, name := range r.Workflows {
		if w, ok := set.Lookup(name); ok {
			dec.Verdicts = append(dec.Verdicts, w.Decide(scope))
		}
	}
	return dec, nil
}
