package applyaction

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

const jobManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
          command: ["true"]
`

// writeStatusWhenCreated stands in for the controllers this test server does
// not run: once the object exists it sets status through the /status
// subresource, built by status from the object. It returns a channel that
// gets nil once the status is written, or the error that stopped it.
func writeStatusWhenCreated(t *testing.T, r schema.GroupVersionResource, ns, name string, status func(*unstructured.Unstructured) map[string]any) <-chan error {
	t.Helper()
	ri := testClient(t).Resource(r).Namespace(ns)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	go func() {
		for {
			u, err := ri.Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				u.Object["status"] = status(u)
				_, err = ri.UpdateStatus(ctx, u, metav1.UpdateOptions{})
				if err == nil || !apierrors.IsConflict(err) {
					done <- err
					return
				}
			} else if !apierrors.IsNotFound(err) {
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- ctx.Err()
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return done
}

func TestWaitDeployment(t *testing.T) {
	ns := testNamespace(t)
	t.Run("rolled out", func(t *testing.T) {
		written := writeStatusWhenCreated(t, deployments, ns, "web", func(u *unstructured.Unstructured) map[string]any {
			return map[string]any{
				"observedGeneration": u.GetGeneration(),
				"replicas":           int64(2), "updatedReplicas": int64(2),
				"readyReplicas": int64(2), "availableReplicas": int64(2),
				"conditions": []any{
					map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
					map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
				},
			}
		})
		applied, log, err := apply(t, map[string]any{"manifests": deploymentManifest, "namespace": ns, "wait": true, "wait_timeout": "50s"})
		if err != nil {
			t.Fatalf("%v\nlog:\n%s", err, log)
		}
		if err := <-written; err != nil {
			t.Fatalf("writing the status: %v", err)
		}
		if got, want := summary(applied), "Deployment "+ns+"/web created"; got != want {
			t.Errorf("applied %s, want %s", got, want)
		}
		if !strings.Contains(log, "Deployment "+ns+"/web ready\n") {
			t.Errorf("log does not say the Deployment is ready:\n%s", log)
		}
	})
	t.Run("times out", func(t *testing.T) {
		manifest := strings.Replace(deploymentManifest, "name: web", "name: stuck", 1)
		applied, log, err := apply(t, map[string]any{"manifests": manifest, "namespace": ns, "wait": true, "wait_timeout": "1s"})
		actiontest.WantErrorContains(t, err, "manifests: document 1 (line 1): Deployment "+ns+"/stuck:",
			"not ready after wait_timeout 1s: Replicas: 0/2 (Reconciling: LessReplicas)")
		actiontest.WantRetryable(t, err, true)
		if got, want := summary(applied), "Deployment "+ns+"/stuck created"; got != want {
			t.Errorf("applied %s, want %s", got, want)
		}
		if strings.Contains(log, "ready") {
			t.Errorf("log says ready:\n%s", log)
		}
	})
	t.Run("progress deadline exceeded", func(t *testing.T) {
		manifest := strings.Replace(deploymentManifest, "name: web", "name: failing", 1)
		written := writeStatusWhenCreated(t, deployments, ns, "failing", func(u *unstructured.Unstructured) map[string]any {
			return map[string]any{
				"observedGeneration": u.GetGeneration(), "replicas": int64(2), "updatedReplicas": int64(1),
				"conditions": []any{map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
					"message": `ReplicaSet "failing-6d4cf56db6" has timed out progressing.`}},
			}
		})
		_, log, err := apply(t, map[string]any{"manifests": manifest, "namespace": ns, "wait": true, "wait_timeout": "50s"})
		if werr := <-written; werr != nil {
			t.Fatalf("writing the status: %v", werr)
		}
		actiontest.WantErrorContains(t, err, "Deployment "+ns+"/failing: failed: Progress deadline exceeded "+
			`(Stalled: ProgressDeadlineExceeded: ReplicaSet "failing-6d4cf56db6" has timed out progressing.)`)
		actiontest.WantRetryable(t, err, false)
		if strings.Contains(log, "ready") {
			t.Errorf("log says ready:\n%s", log)
		}
	})
	t.Run("dry run does not wait", func(t *testing.T) {
		manifest := strings.Replace(deploymentManifest, "name: web", "name: dry", 1)
		if _, _, err := apply(t, map[string]any{"manifests": manifest, "namespace": ns, "wait": true, "wait_timeout": "1s", "dry_run": true}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWaitJob(t *testing.T) {
	ns := testNamespace(t)
	now := metav1.Now().UTC().Format(time.RFC3339)
	condition := func(typ string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": typ + "Reason", "message": "set by the test",
			"lastProbeTime": now, "lastTransitionTime": now}
	}
	tests := []struct {
		name   string
		status map[string]any
		want   string // part of the error, "" for success
	}{
		{"complete", map[string]any{
			"startTime": now, "completionTime": now, "succeeded": int64(1), "ready": int64(0), "terminating": int64(0),
			"conditions": []any{condition("SuccessCriteriaMet"), condition("Complete")},
		}, ""},
		{"failed", map[string]any{
			"startTime": now, "failed": int64(1), "ready": int64(0), "terminating": int64(0),
			"conditions": []any{condition("FailureTarget"), condition("Failed")},
		}, "the Job failed: FailedReason: set by the test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "job-" + tt.name
			written := writeStatusWhenCreated(t, jobs, ns, name, func(*unstructured.Unstructured) map[string]any { return tt.status })
			manifest := strings.Replace(jobManifest, "name: migrate", "name: "+name, 1)
			_, log, err := apply(t, map[string]any{"manifests": manifest, "namespace": ns, "wait": true, "wait_timeout": "50s"})
			if werr := <-written; werr != nil {
				t.Fatalf("writing the status: %v", werr)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%v\nlog:\n%s", err, log)
				}
				if !strings.Contains(log, "Job "+ns+"/"+name+" ready\n") {
					t.Errorf("log does not say the Job is done:\n%s", log)
				}
				return
			}
			actiontest.WantErrorContains(t, err, "Job "+ns+"/"+name+": "+tt.want)
			actiontest.WantRetryable(t, err, false)
		})
	}
}

// gadgetCRD defines Gadget, a namespaced kind in group with a status
// subresource, as controllers that write conditions have.
func gadgetCRD(group string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`, group)
}

// TestWaitCustomResource waits on a custom resource by its Ready condition,
// and fails at once on a Stalled one.
func TestWaitCustomResource(t *testing.T) {
	ns := testNamespace(t)
	group := "g" + suffix(t) + ".example.com"
	if _, _, err := apply(t, map[string]any{"manifests": gadgetCRD(group)}); err != nil {
		t.Fatal(err)
	}
	gadgets := gvr(group, "v1", "gadgets")
	cr := func(name string) string {
		return fmt.Sprintf("apiVersion: %s/v1\nkind: Gadget\nmetadata:\n  name: %s\nspec:\n  size: 2\n", group, name)
	}
	conditions := func(conds ...map[string]any) func(*unstructured.Unstructured) map[string]any {
		return func(u *unstructured.Unstructured) map[string]any {
			list := make([]any, len(conds))
			for i, c := range conds {
				list[i] = c
			}
			return map[string]any{"observedGeneration": u.GetGeneration(), "conditions": list}
		}
	}
	t.Run("not ready yet", func(t *testing.T) {
		written := writeStatusWhenCreated(t, gadgets, ns, "pending",
			conditions(map[string]any{"type": "Ready", "status": "False", "reason": "Provisioning", "message": "disk 3 of 4"}))
		_, log, err := apply(t, map[string]any{"manifests": cr("pending"), "namespace": ns, "wait": true, "wait_timeout": "3s"})
		if werr := <-written; werr != nil {
			t.Fatalf("writing the status: %v", werr)
		}
		actiontest.WantErrorContains(t, err, "Gadget "+ns+"/pending: not ready after wait_timeout 3s: disk 3 of 4 (Reconciling: Provisioning)")
		actiontest.WantRetryable(t, err, true)
		if strings.Contains(log, "ready\n") {
			t.Errorf("log says ready:\n%s", log)
		}
	})
	t.Run("no status yet", func(t *testing.T) {
		_, _, err := apply(t, map[string]any{"manifests": cr("silent"), "namespace": ns, "wait": true, "wait_timeout": "1s"})
		actiontest.WantErrorContains(t, err, "Gadget "+ns+"/silent: not ready after wait_timeout 1s: no status yet")
	})
	t.Run("a kind without status is ready at once", func(t *testing.T) {
		widgets := "w" + suffix(t) + ".example.com"
		manifests := crdManifest(widgets) + "\n---\n" + fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata:\n  name: w\n", widgets)
		_, log, err := apply(t, map[string]any{"manifests": manifests, "namespace": ns, "wait": true, "wait_timeout": "50s"})
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if !strings.Contains(log, "Widget "+ns+"/w ready\n") {
			t.Errorf("log does not say the Widget is ready:\n%s", log)
		}
	})
	t.Run("ready", func(t *testing.T) {
		written := writeStatusWhenCreated(t, gadgets, ns, "done", conditions(map[string]any{"type": "Ready", "status": "True", "reason": "Done"}))
		_, log, err := apply(t, map[string]any{"manifests": cr("done"), "namespace": ns, "wait": true, "wait_timeout": "50s"})
		if werr := <-written; werr != nil {
			t.Fatalf("writing the status: %v", werr)
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if !strings.Contains(log, "Gadget "+ns+"/done ready\n") {
			t.Errorf("log does not say the Gadget is ready:\n%s", log)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		written := writeStatusWhenCreated(t, gadgets, ns, "stuck",
			conditions(map[string]any{"type": "Stalled", "status": "True", "reason": "QuotaExceeded", "message": "no more disks"}))
		_, _, err := apply(t, map[string]any{"manifests": cr("stuck"), "namespace": ns, "wait": true, "wait_timeout": "50s"})
		if werr := <-written; werr != nil {
			t.Fatalf("writing the status: %v", werr)
		}
		actiontest.WantErrorContains(t, err, "Gadget "+ns+"/stuck: failed: no more disks (Stalled: QuotaExceeded)")
		actiontest.WantRetryable(t, err, false)
	})
}

func ptr[T any](v T) *T { return &v }

// TestHealth checks what wait makes of kstatus's verdicts, for the kinds
// that used to have rules of their own and for a custom resource.
func TestHealth(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "x", Namespace: "ns", Generation: 2}
	available := []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	tests := []struct {
		name string
		obj  any
		want string // "" when done, else part of the reason
		err  string // part of the error for a failure
	}{
		{"deployment not observed", &appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 1}},
			"Deployment generation is 2, but latest observed generation is 1 (Reconciling: LatestGenerationNotObserved)", ""},
		{"deployment updating", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 3}}, "Updated: 1/3", ""},
		{"deployment old replicas", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 2, Replicas: 3}}, "Pending termination: 1", ""},
		{"deployment unavailable", &appsv1.Deployment{ObjectMeta: meta,
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 1}}, "Available: 0/1", ""},
		{"deployment done", &appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 2,
			UpdatedReplicas: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, Conditions: available}}, "", ""},
		{"deployment deadline", &appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", Message: "too slow"}}}},
			"", "failed: Progress deadline exceeded (Stalled: ProgressDeadlineExceeded: too slow)"},
		{"statefulset not ready", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(2))},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 2, ReadyReplicas: 1}}, "Ready: 1/2", ""},
		{"statefulset revision", &appsv1.StatefulSet{ObjectMeta: meta, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2,
			Replicas: 1, ReadyReplicas: 1, CurrentReplicas: 1, UpdateRevision: "r2", CurrentRevision: "r1"}},
			"Waiting for updated revision to match current", ""},
		{"statefulset on delete", &appsv1.StatefulSet{ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}}}, "", ""},
		{"statefulset done", &appsv1.StatefulSet{ObjectMeta: meta, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2,
			Replicas: 1, ReadyReplicas: 1, CurrentReplicas: 1, UpdateRevision: "r2", CurrentRevision: "r2"}}, "", ""},
		{"daemonset unavailable", &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
				UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 1}}, "Available: 1/3", ""},
		{"daemonset done", &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
				UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3}}, "", ""},
		{"configmap", &corev1.ConfigMap{ObjectMeta: meta}, "", ""},
		{"job running", &batchv1.Job{Status: batchv1.JobStatus{Active: 1, Failed: 1}}, "0 succeeded, 1 active, 1 failed", ""},
		{"job complete", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}}, "", ""},
		{"job failed", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "gave up"}}}},
			"", "the Job failed: BackoffLimitExceeded: gave up"},
		{"custom not ready", gadget(2, map[string]any{"type": "Ready", "status": "False", "reason": "Provisioning", "message": "disk 3 of 4"}),
			"disk 3 of 4 (Reconciling: Provisioning)", ""},
		{"custom ready", gadget(2, map[string]any{"type": "Ready", "status": "True", "reason": "Done"}), "", ""},
		{"custom stale", gadget(1, map[string]any{"type": "Ready", "status": "True", "reason": "Done"}),
			"Gadget generation is 2, but latest observed generation is 1", ""},
		{"custom stalled", gadget(2, map[string]any{"type": "Stalled", "status": "True", "reason": "QuotaExceeded", "message": "no more disks"}),
			"", "failed: no more disks (Stalled: QuotaExceeded)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := tt.obj.(*unstructured.Unstructured)
			if !ok {
				m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tt.obj)
				if err != nil {
					t.Fatal(err)
				}
				u = &unstructured.Unstructured{Object: m}
				kinds, _, err := scheme.Scheme.ObjectKinds(tt.obj.(runtime.Object))
				if err != nil {
					t.Fatal(err)
				}
				u.SetGroupVersionKind(kinds[0])
			}
			p, err := health(u)
			if tt.err != "" {
				actiontest.WantErrorContains(t, err, tt.err)
				actiontest.WantRetryable(t, err, false)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.done != (tt.want == "") || !strings.Contains(p.reason, tt.want) {
				t.Errorf("progress = %+v, want reason %q", p, tt.want)
			}
		})
	}
}

// gadget is a custom resource at generation 2 whose controller saw
// generation observed and wrote cond.
func gadget(observed int64, cond map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": "g", "namespace": "ns", "generation": int64(2)},
		"status":   map[string]any{"observedGeneration": observed, "conditions": []any{cond}},
	}}
}

func TestPollStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := poll(ctx, time.Now().Add(time.Hour), func(context.Context) (progress, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return progress{reason: "not yet"}, nil
	})
	if err != context.Canceled {
		t.Errorf("poll = %v, want context.Canceled", err)
	}
	err = poll(context.Background(), time.Now().Add(-time.Second), func(context.Context) (progress, error) {
		return progress{}, actions.Retryable(context.DeadlineExceeded)
	})
	if _, ok := err.(*timeoutError); !ok {
		t.Errorf("poll past its deadline = %v (%T), want a *timeoutError", err, err)
	}
}
