package applyaction

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/actions"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// pollInterval is how often a wait looks at an object again.
const pollInterval = 500 * time.Millisecond

// timeoutError is a wait that ran out of time, with what it last saw.
type timeoutError struct{ last string }

func (e *timeoutError) Error() string { return e.last }

// workload is an applied object `wait` watches, with its resource.
type workload struct {
	o *object
	m *meta.RESTMapping
}

// isWorkload reports whether `wait` waits for objects of kind gk.
func isWorkload(gk schema.GroupKind) bool {
	switch gk {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"},
		schema.GroupKind{Group: "apps", Kind: "StatefulSet"},
		schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
		schema.GroupKind{Group: "batch", Kind: "Job"}:
		return true
	}
	return false
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
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(o.obj.GetNamespace())
	}
	return c.dynamic.Resource(m.Resource)
}

// establish waits until the CRDs among objs are established, then makes the
// mapper read discovery again so that it knows their kinds. A dry run made
// none, so there is nothing to wait for.
func (a *Action) establish(ctx context.Context, c *cluster, objs []*object, s *actions.Step) error {
	if a.dryRun {
		return nil
	}
	crds := c.dynamic.Resource(schema.GroupVersionResource{
		Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions",
	})
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

// waitRollouts waits, within one wait_timeout for all, until every workload
// has rolled out or, for a Job, completed. A Deployment past its progress
// deadline or a failed Job fails at once.
func (a *Action) waitRollouts(ctx context.Context, c *cluster, workloads []workload, s *actions.Step) error {
	deadline := time.Now().Add(a.waitTimeout)
	for _, w := range workloads {
		ri := resource(c, w.o, w.m)
		err := poll(ctx, deadline, func(ctx context.Context) (progress, error) {
			u, err := ri.Get(ctx, w.o.obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return progress{}, classify(err)
			}
			return rolloutProgress(u)
		})
		var timeout *timeoutError
		if errors.As(err, &timeout) {
			return actions.Retryable(w.o.errorf("not ready after wait_timeout %s: %s", a.waitTimeout, timeout.last))
		}
		if err != nil {
			return w.o.errorf("waiting: %w", err)
		}
		fmt.Fprintf(s.Stdout, "%s ready\n", w.o.describe())
	}
	return nil
}

// rolloutProgress says whether u has rolled out, by the rules of kubectl
// rollout status; for a Job, whether it completed.
func rolloutProgress(u *unstructured.Unstructured) (progress, error) {
	switch u.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		var d appsv1.Deployment
		if err := convert(u, &d); err != nil {
			return progress{}, err
		}
		return deploymentProgress(&d)
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}:
		var st appsv1.StatefulSet
		if err := convert(u, &st); err != nil {
			return progress{}, err
		}
		return statefulSetProgress(&st), nil
	case schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
		var ds appsv1.DaemonSet
		if err := convert(u, &ds); err != nil {
			return progress{}, err
		}
		return daemonSetProgress(&ds), nil
	case schema.GroupKind{Group: "batch", Kind: "Job"}:
		var j batchv1.Job
		if err := convert(u, &j); err != nil {
			return progress{}, err
		}
		return jobProgress(&j)
	}
	return progress{done: true}, nil
}

func convert(u *unstructured.Unstructured, out any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return actions.Permanent(fmt.Errorf("reading its status: %w", err))
	}
	return nil
}

func waiting(format string, args ...any) progress {
	return progress{reason: fmt.Sprintf(format, args...)}
}

func deploymentProgress(d *appsv1.Deployment) (progress, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return waiting("the controller has not seen generation %d yet", d.Generation), nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return progress{}, actions.Permanent(fmt.Errorf("rollout exceeded its progress deadline: %s", c.Message))
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.UpdatedReplicas < want:
		return waiting("%d of %d replicas updated", st.UpdatedReplicas, want), nil
	case st.Replicas > st.UpdatedReplicas:
		return waiting("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas), nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return waiting("%d of %d updated replicas available", st.AvailableReplicas, st.UpdatedReplicas), nil
	}
	return progress{done: true}, nil
}

func statefulSetProgress(s *appsv1.StatefulSet) progress {
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return progress{done: true} // pods change only when deleted: nothing to wait for
	}
	if s.Status.ObservedGeneration == 0 || s.Generation > s.Status.ObservedGeneration {
		return waiting("the controller has not seen generation %d yet", s.Generation)
	}
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	if s.Status.ReadyReplicas < want {
		return waiting("%d of %d replicas ready", s.Status.ReadyReplicas, want)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 {
		if s.Status.UpdatedReplicas < want-*ru.Partition {
			return waiting("%d of %d replicas above the partition updated", s.Status.UpdatedReplicas, want-*ru.Partition)
		}
		return progress{done: true}
	}
	if s.Status.UpdateRevision != s.Status.CurrentRevision {
		return waiting("%d of %d replicas at revision %s", s.Status.UpdatedReplicas, want, s.Status.UpdateRevision)
	}
	return progress{done: true}
}

func daemonSetProgress(d *appsv1.DaemonSet) progress {
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return progress{done: true}
	}
	if d.Generation > d.Status.ObservedGeneration {
		return waiting("the controller has not seen generation %d yet", d.Generation)
	}
	st := d.Status
	if st.UpdatedNumberScheduled < st.DesiredNumberScheduled {
		return waiting("%d of %d updated pods scheduled", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	}
	if st.NumberAvailable < st.DesiredNumberScheduled {
		return waiting("%d of %d updated pods available", st.NumberAvailable, st.DesiredNumberScheduled)
	}
	return progress{done: true}
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
