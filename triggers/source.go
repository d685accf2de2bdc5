// Package triggers holds hookflow's event sources: the webhook endpoint and its
// providers, cron schedules, and the sources workflow files are loaded from.
package triggers

import (
	"context"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Loader reads a complete workflow set.
type Loader func(ctx context.Context) (*workflows.Set, error)

// Source holds the active workflow set and swaps it whole on reload: a new set
// replaces the old one only if every file in it is valid, so a bad push never
// leaves the server with half its workflows.
type Source struct {
	load Loader
	now  func() time.Time
	// onChange is called after a new set became active.
	onChange func(*workflows.Set)
	// onError is called when a reload failed and the old set stays.
	onError func(error)

	// reloading serialises reloads, so that a slow load never swaps in a set
	// older than one a faster, later reload already made active.
	reloading sync.Mutex

	mu       sync.RWMutex
	set      *workflows.Set
	lastErr  error
	loadedAt time.Time
}

// SourceStatus describes the active set and the last reload.
type SourceStatus struct {
	Revision string    `json:"revision"`
	LoadedAt time.Time `json:"loaded_at"`
	// Error is the last reload's failure, empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// NewSource loads the first set; an invalid first set is an error, since there
// is no last good set to keep.
func NewSource(ctx context.Context, load Loader, onChange func(*workflows.Set), onError func(error)) (*Source, error) {
	s := &Source{load: load, now: time.Now, onChange: onChange, onError: onError}
	set, err := load(ctx)
	if err != nil {
		return nil, err
	}
	s.set, s.loadedAt = set, s.now()
	if onChange != nil {
		onChange(set)
	}
	return s, nil
}

// Set returns the active set.
func (s *Source) Set() *workflows.Set {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.set
}

// Reload loads the set again. On error the active set stays and the error is
// kept for Status.
func (s *Source) Reload(ctx context.Context) error {
	s.reloading.Lock()
	defer s.reloading.Unlock()
	set, err := s.load(ctx)
	s.mu.Lock()
	s.lastErr = err
	changed := err == nil && set.Revision != s.set.Revision
	if changed {
		s.set, s.loadedAt = set, s.now()
	}
	s.mu.Unlock()
	if err != nil {
		if s.onError != nil {
			s.onError(err)
		}
		return err
	}
	// The same content again (a watcher's catch-up, a poll with no new
	// commit) changes nothing: schedules and runs keep the set they have.
	if changed && s.onChange != nil {
		s.onChange(set)
	}
	return nil
}

// Status describes the active set and the last reload.
func (s *Source) Status() SourceStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := SourceStatus{Revision: s.set.Revision, LoadedAt: s.loadedAt}
	if s.lastErr != nil {
		st.Error = s.lastErr.Error()
	}
	return st
}
