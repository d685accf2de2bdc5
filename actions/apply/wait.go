package applyaction

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// pollInterval is how often a wait looks at an object again.
const pollInterval = 500 * time.Millisecond

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// timeoutError is a wait that ran out of time, with what it last saw.
type timeoutError struct{ last string }

func (e *timeoutError) Error() string { return e.last }

// watch is an applied object `wait` watches, with its resource.
type watch struct {
	o *object
	m *meta.RESTMapping
}

// progress is what a check found: done, or why not yet.
type progress struct {
	done   bool
	reason string
}

// poll calls check until it reports done or fails, or until the deadline
// passes, which returns a *timeoutError saying what check last reported.
// Errors check marks retryable (the server was busy) are tried again. The
// deadline is checked between calls, not passed to check: a request cut off
// by it would report the cut instead of the object's state.
func poll(ctx context.Context, deadline time.Time, check func(context.Context) (progress, error)) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	last := "nothing reported yet"
	for {
		p, err := check(ctx)
		switch {
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case err != nil && !actions.IsRetryable(err):
			return err
		case err != nil:
			last = err.Error()
		case p.done:
			return nil
		default:
			last = p.reason
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-timer.C:
			return &timeoutError{last: last}
		case <-tick.C:
		}
	}
}

// resource returns the client for o's resource.
func resource(c *cluster, o *object, m *meta.RESTMapping) dynamic.ResourceInterface {
	return resourceIn(c, m, o.obj.GetNamespace())
}

// establish waits until the CRDs among objs are established, then makes the
// mapper read discovery again so that it knows their kinds. A dry run made
// none, so there is nothing to wait for.
func (a *Action) establish(ctx context.Context, c *cluster, objs []*object, s *actions.Step) error {
	if a.dryRun {
		return nil
	}
	crds := c.dynamic.Resource(crdResource)
	deadline := time.Now().Add(a.waitTimeout)
	found := false
	for _, o := range objs {
		if o.obj.GroupVersionKind().GroupKind() != crdKind {
			continue
		}
		found = true
		err := poll(ctx, deadline, func(ctx context.Context) (progress, error) {
			u, err := crds.Get(ctx, o.obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return progress{}, classify(err)
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "NamesAccepted" && cm["status"] == "False" {
					return progress{}, actions.Permanent(fmt.Errorf("names not accepted: %v", cm["message"]))
				}
				if cm["type"] == "Established" && cm["status"] == "True" {
					return progress{done: true}, nil
				}
			}
			return progress{reason: "not established yet"}, nil
		})
		if err != nil {
			return o.errorf("waiting for it to be established: %w", err)
		}
		fmt.Fprintf(s.Stdout, "%s established\n", o.describe())
	}
	if found {
		c.mapper.Reset()
	}
	return nil
}

// waitMapping maps an object whose kind a CRD of this step defines. Discovery
// may lag a moment behind the CRD's Established condition, so a missing kind
// is looked up again until wait_timeout.
func (a *Action) waitMapping(ctx context.Context, c *cluster, o *object) (*meta.RESTMapping, error) {
	if a.dryRun {
		m, err := c.mapping(o)
		if meta.IsNoMatchError(err) {
			return nil, actions.Permanent(o.errorf("a dry run cannot check it: the server has no kind %s yet, "+
				"and a dry run does not store the CustomResourceDefinition that defines it", o.obj.GetKind()))
		}
		return m, err
	}
	var m *meta.RESTMapping
	err := poll(ctx, time.Now().Add(a.waitTimeout), func(context.Context) (progress, error) {
		var err error
		m, err = c.mapping(o)
		if err == nil {
			return progress{done: true}, nil
		}
		c.mapper.Reset()
		return progress{reason: err.Error()}, nil
	})
	if err != nil {
		return nil, actions.Permanent(o.errorf("its kind is not served after its CustomResourceDefinition was established: %w", err))
	}
	return m, nil
}

// waitHealthy waits, within one wait_timeout for all, until every applied
// object is healthy (see health). An object found failed fails the wait at
// once.
func (a *Action) waitHealthy(ctx context.Context, c *cluster, watched []watch, s *actions.Step) error {
	deadline := time.Now().Add(a.waitTimeout)
	reports := map[schema.GroupVersionResource]bool{}
	for _, w := range watched {
		ri := resource(c, w.o, w.m)
		gvr := w.m.Resource
		if _, known := reports[gvr]; !known {
			var err error
			if reports[gvr], err = reportsStatus(ctx, c, gvr); err != nil {
				return w.o.errorf("%w", err)
			}
		}
		err := poll(ctx, deadline, func(ctx context.Context) (progress, error) {
			u, err := ri.Get(ctx, w.o.obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return waiting("not found: it was deleted after it was applied"), nil
			}
			if err != nil {
				return progress{}, classify(err)
			}
			if st, _ := u.Object["status"].(map[string]any); reports[gvr] && len(st) == 0 {
				return waiting("no status yet: its controller has not reported on it"), nil
			}
			return health(u)
		})
		var timeout *timeoutError
		if errors.As(err, &timeout) {
			return actions.Retryable(w.o.errorf("not ready after wait_timeout %s: %s", a.waitTimeout, timeout.last))
		}
		if err != nil {
			return w.o.errorf("%w", err)
		}
		fmt.Fprintf(s.Stdout, "%s ready\n", w.o.describe())
	}
	return nil
}

// reportsStatus says whether objects of resource r get their status from a
// controller: r is a custom resource whose CustomResourceDefinition gives
// its version a status subresource. kstatus counts an object without any
// status as current, so for these the wait first waits for a status, lest
// it end before the controller saw the object. Objects of a kind without a
// status subresource (configuration kept in a custom resource) have none to
// wait for.
func reportsStatus(ctx context.Context, c *cluster, r schema.GroupVersionResource) (bool, error) {
	if r.Group == "" {
		return false, nil
	}
	crd, err := c.dynamic.Resource(crdResource).Get(ctx, r.Resource+"."+r.Group, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil // a built-in kind, or one an aggregated API serves
	case apierrors.IsForbidden(err):
		return false, nil // the step's account may not read CRDs: kstatus alone judges
	}
	if err != nil {
		return false, classify(fmt.Errorf("reading the CustomResourceDefinition of %s: %w", r.GroupResource(), err))
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if vm["name"] == r.Version {
			_, has, _ := unstructured.NestedMap(vm, "subresources", "status")
			return has, nil
		}
	}
	return false, nil
}

// health says whether u is healthy, by kstatus (the rules Flux and kpt
// use): current is done; failed, such as a Deployment past its progress
// deadline or a resource whose Stalled condition is true, fails for good;
// anything else (in progress, terminating, unknown) is waited for, with
// kstatus's message as the reason. A Job is the exception: kstatus counts
// one as current once it started, and wait waits for it to complete.
func health(u *unstructured.Unstructured) (progress, error) {
	if u.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: "batch", Kind: "Job"}) {
		var j batchv1.Job
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &j); err != nil {
			return progress{}, actions.Permanent(fmt.Errorf("reading its status: %w", err))
		}
		return jobProgress(&j)
	}
	r, err := status.Compute(u)
	if err != nil {
		return progress{}, actions.Permanent(fmt.Errorf("reading its status: %w", err))
	}
	switch r.Status {
	case status.CurrentStatus:
		return progress{done: true}, nil
	case status.FailedStatus:
		return progress{}, actions.Permanent(fmt.Errorf("failed: %s", verdict(r)))
	case status.TerminatingStatus:
		return waiting("being deleted"), nil
	}
	return waiting("%s", verdict(r)), nil
}

// verdict is kstatus's message with the condition it was drawn from, such as
// "Progress deadline exceeded (Stalled: ProgressDeadlineExceeded: ReplicaSet
// "web-5d4" has timed out progressing.)".
func verdict(r *status.Result) string {
	msg := r.Message
	for _, c := range r.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		why := string(c.Type)
		if c.Reason != "" {
			why += ": " + c.Reason
		}
		if c.Message != "" && c.Message != r.Message {
			why += ": " + c.Message
		}
		if msg == "" {
			msg = why
		} else {
			msg += " (" + why + ")"
		}
	}
	if msg == "" {
		return strings.ToLower(string(r.Status))
	}
	return msg
}

func waiting(format string, args ...any) progress {
	return progress{reason: fmt.Sprintf(format, args...)}
}

func jobProgress(j *batchv1.Job) (progress, error) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return progress{done: true}, nil
		case batchv1.JobFailed:
			return progress{}, actions.Permanent(fmt.Errorf("the Job failed: %s: %s", c.Reason, c.Message))
		}
	}
	return waiting("%d succeeded, %d active, %d failed", j.Status.Succeeded, j.Status.Active, j.Status.Failed), nil
}
