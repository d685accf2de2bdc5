package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hookflow/hookflow/store"
)

var errJobsMissing = errors.New("jobs are not stored yet")

// SaveJobs implements store.Store.
func (s *Store) SaveJobs(ctx context.Context, runID string, jobs []*store.Job, remove []string) error {
	return errJobsMissing
}

// Jobs implements store.Store.
func (s *Store) Jobs(ctx context.Context, runID string) ([]*store.Job, error) {
	return nil, nil
}

// UpdateJobSteps implements store.Store.
func (s *Store) UpdateJobSteps(ctx context.Context, runID, key string, steps json.RawMessage, sandbox string) error {
	return errJobsMissing
}
