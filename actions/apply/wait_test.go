package applyaction

import (
	"context"
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
	"k8s.io/apimachinery/pkg/runtime/schema"
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
			"not ready after wait_timeout 1s: the controller has not seen generation 1 yet")
		actiontest.WantRetryable(t, err, true)
		if got, want := summary(applied), "Deployment "+ns+"/stuck created"; got != want {
			t.Errorf("applied %s, want %s", got, want)
		}
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
			actiontest.WantErrorContains(t, err, "Job "+ns+"/"+name+": waiting: "+tt.want)
			actiontest.WantRetryable(t, err, false)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRolloutProgress(t *testing.T) {
	meta := metav1.ObjectMeta{Generation: 2}
	tests := []struct {
		name string
		obj  any
		want string // "" when done, else the reason
		err  string
	}{
		{"deployment not observed", &appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 1}},
			"the controller has not seen generation 2 yet", ""},
		{"deployment updating", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 3}}, "1 of 3 replicas updated", ""},
		{"deployment old replicas", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2))},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 2, Replicas: 3}}, "1 old replicas pending termination", ""},
		{"deployment unavailable", &appsv1.Deployment{ObjectMeta: meta,
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 1}}, "0 of 1 updated replicas available", ""},
		{"deployment done", &appsv1.Deployment{ObjectMeta: meta,
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, UpdatedReplicas: 1, Replicas: 1, AvailableReplicas: 1}}, "", ""},
		{"deployment deadline", &appsv1.Deployment{ObjectMeta: meta, Status: appsv1.DeploymentStatus{ObservedGeneration: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded", Message: "too slow"}}}},
			"", "rollout exceeded its progress deadline: too slow"},
		{"statefulset not ready", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(2))},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}}, "1 of 2 replicas ready", ""},
		{"statefulset revision", &appsv1.StatefulSet{ObjectMeta: meta,
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, UpdateRevision: "r2", CurrentRevision: "r1"}},
			"0 of 1 replicas at revision r2", ""},
		{"statefulset partition", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(1))}}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 2, UpdateRevision: "r2", CurrentRevision: "r1"}},
			"", ""},
		{"statefulset on delete", &appsv1.StatefulSet{ObjectMeta: meta,
			Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}}}, "", ""},
		{"statefulset done", &appsv1.StatefulSet{ObjectMeta: meta,
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, UpdateRevision: "r2", CurrentRevision: "r2"}}, "", ""},
		{"daemonset scheduling", &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 2}},
			"2 of 3 updated pods scheduled", ""},
		{"daemonset unavailable", &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 1}},
			"1 of 3 updated pods available", ""},
		{"daemonset done", &appsv1.DaemonSet{ObjectMeta: meta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}}, "", ""},
		{"job running", &batchv1.Job{Status: batchv1.JobStatus{Active: 1, Failed: 1}}, "0 succeeded, 1 active, 1 failed", ""},
		{"job complete", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}}, "", ""},
		{"job failed", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "gave up"}}}},
			"", "the Job failed: BackoffLimitExceeded: gave up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p progress
			var err error
			switch o := tt.obj.(type) {
			case *appsv1.Deployment:
				p, err = deploymentProgress(o)
			case *appsv1.StatefulSet:
				p = statefulSetProgress(o)
			case *appsv1.DaemonSet:
				p = daemonSetProgress(o)
			case *batchv1.Job:
				p, err = jobProgress(o)
			}
			if tt.err != "" {
				actiontest.WantErrorContains(t, err, tt.err)
				actiontest.WantRetryable(t, err, false)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.done != (tt.want == "") || p.reason != tt.want {
				t.Errorf("progress = %+v, want reason %q", p, tt.want)
			}
		})
	}
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
