package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
)

// protocolServer is the server side of the agent protocol over a tiny
// in-memory model of the jobs it offers: lines kept by their index, as the
// store keeps them, a result or a release recorded once per attempt, and
// faults injected into its answers.
type protocolServer struct {
	t     *testing.T
	token string
	url   string

	mu      sync.Mutex
	offers  []runner.Assignment
	jobs    map[store.JobRef]*serverJob
	claims  int
	changed chan struct{} // closed at every change
	// fault, when set, says how to answer a request to path.
	fault func(path string) fault
	// refuse, when set, is the message the server refuses every token with.
	refuse string
	// onFinish, when set, is called as a finish request arrives.
	onFinish func()
}

// fault is how a request goes wrong.
type fault int

const (
	noFault     fault = iota
	unavailable       // answered 503 before it is handled
	cutBefore         // the connection closes before it is handled
	cutAfter          // handled, then the connection closes before the answer
)

// serverJob is a claimed job as the model keeps it.
type serverJob struct {
	lines []runner.LogLine
	// froms are the From of every progress request.
	froms []int
	// resent counts the lines sent that were stored already.
	resent   int
	steps    []runner.StepResult
	result   *runner.Result
	finishes int // finish requests answered 204
	released string
	releases int // release requests answered 204
	gone     bool
	stop     *store.JobStop
	renewals int
}

func newProtocolServer(t *testing.T) *protocolServer {
	t.Helper()
	s := &protocolServer{t: t, token: "agent-token-" + strings.Repeat("7f3a", 8), jobs: map[store.JobRef]*serverJob{},
		changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+runner.AgentClaimPath, s.handle(s.claim))
	mux.HandleFunc("POST "+runner.AgentRenewPath, s.handle(s.locked(s.renew)))
	mux.HandleFunc("POST "+runner.AgentProgressPath, s.handle(s.locked(s.progress)))
	mux.HandleFunc("POST "+runner.AgentFinishPath, s.handle(s.locked(s.finish)))
	mux.HandleFunc("POST "+runner.AgentReleasePath, s.handle(s.locked(s.release)))
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// offer makes asg claimable; its attempt is 1 unless it says.
func (s *protocolServer) offer(asg runner.Assignment) store.JobRef {
	if asg.Attempt == 0 {
		asg.Attempt = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offers = append(s.offers, asg)
	s.changedLocked()
	return asg.JobRef
}

func (s *protocolServer) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// with calls fn with the model locked.
func (s *protocolServer) with(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	s.changedLocked()
}

// job returns the model's job ref, nil before it is claimed.
func (s *protocolServer) job(ref store.JobRef) *serverJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[ref]
}

// waitFor waits until cond, called with the model locked, holds.
func (s *protocolServer) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-time.After(50 * time.Millisecond): // conditions on the agent's files
		case <-deadline:
			s.t.Fatalf("still waiting for %s", what)
		}
	}
}

type handler func(w http.ResponseWriter, r *http.Request) (int, any)

// handle checks the token, injects the fault, and writes h's answer.
func (s *protocolServer) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f, refuse := noFault, s.refuse
		if s.fault != nil {
			f = s.fault(r.URL.Path)
		}
		s.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer "+s.token:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unknown agent token"})
			return
		case refuse != "":
			writeJSON(w, http.StatusForbidden, map[string]string{"error": refuse})
			return
		case f == unavailable:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the server is stopping"})
			return
		case f == cutBefore:
			cut(w)
			return
		}
		status, body := h(w, r)
		if f == cutAfter {
			cut(w)
			return
		}
		writeJSON(w, status, body)
	}
}

// locked runs h with the model locked, and tells waiters that it changed.
func (s *protocolServer) locked(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) (int, any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		defer s.changedLocked()
		return h(w, r)
	}
}

// ended reports whether the job's attempt is over: nothing more is taken.
func (j *serverJob) ended() bool { return j.gone || j.result != nil || j.released != "" }

// cut closes the request's connection without an answer.
func cut(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if status == http.StatusNoContent || body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func decode[T any](r *http.Request) T {
	var v T
	_ = json.NewDecoder(r.Body).Decode(&v)
	return v
}

func notHeld() (int, any) {
	return http.StatusConflict, map[string]string{"error": "the job is not held by this agent"}
}

func (s *protocolServer) claim(_ http.ResponseWriter, r *http.Request) (int, any) {
	req := decode[runner.ClaimRequest](r)
	wait := time.After(min(time.Duration(req.WaitSeconds*float64(time.Second)), 500*time.Millisecond))
	for {
		s.mu.Lock()
		if len(s.offers) > 0 {
			asg := s.offers[0]
			s.offers = s.offers[1:]
			s.claims++
			s.jobs[asg.JobRef] = &serverJob{}
			s.changedLocked()
			s.mu.Unlock()
			return http.StatusOK, asg
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-wait:
			return http.StatusNoContent, nil
		case <-r.Context().Done():
			return http.StatusNoContent, nil
		}
	}
}

func (s *protocolServer) renew(_ http.ResponseWriter, r *http.Request) (int, any) {
	req := decode[runner.RenewRequest](r)
	resp := runner.RenewResponse{Stop: []store.JobStop{}}
	for _, ref := range req.Jobs {
		j := s.jobs[ref]
		switch {
		case j == nil || j.ended():
			resp.Stop = append(resp.Stop, store.JobStop{JobRef: ref, Reason: "the job is not yours", Gone: true})
		case j.stop != nil:
			j.renewals++
			resp.Stop = append(resp.Stop, *j.stop)
		default:
			j.renewals++
		}
	}
	return http.StatusOK, resp
}

func (s *protocolServer) progress(_ http.ResponseWriter, r *http.Request) (int, any) {
	req := decode[runner.ProgressRequest](r)
	j := s.jobs[req.JobRef]
	if j == nil || j.ended() {
		return notHeld()
	}
	j.froms = append(j.froms, req.From)
	if req.From <= len(j.lines) {
		skip := len(j.lines) - req.From
		j.resent += min(skip, len(req.Lines))
		if skip < len(req.Lines) {
			j.lines = append(j.lines, req.Lines[skip:]...)
		}
	}
	if req.Steps != nil {
		j.steps = req.Steps
	}
	return http.StatusOK, runner.ProgressResponse{Stored: len(j.lines)}
}

func (s *protocolServer) finish(_ http.ResponseWriter, r *http.Request) (int, any) {
	req := decode[runner.FinishRequest](r)
	j := s.jobs[req.JobRef]
	if j == nil || j.gone || j.released != "" {
		return notHeld()
	}
	if s.onFinish != nil {
		s.onFinish()
	}
	if j.result == nil {
		j.result = &req.Result
	} else if !slices.Equal([]string{j.result.Status, j.result.Reason}, []string{req.Result.Status, req.Result.Reason}) {
		s.t.Errorf("the job's result was reported twice, differently: %+v, then %+v", *j.result, req.Result)
	}
	j.finishes++
	return http.StatusNoContent, nil
}

func (s *protocolServer) release(_ http.ResponseWriter, r *http.Request) (int, any) {
	req := decode[runner.ReleaseRequest](r)
	j := s.jobs[req.JobRef]
	if j == nil || j.gone || j.result != nil {
		return notHeld()
	}
	if j.released == "" {
		j.released = req.Reason
	}
	j.releases++
	return http.StatusNoContent, nil
}
