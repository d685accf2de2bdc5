package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hookflow/hookflow/store"
)

// errRemote is what the agent methods answer until they are built.
var errRemote = errors.New("runners on other hosts: not built yet")

func (s *Store) OfferJob(context.Context, string, string, json.RawMessage, string, string, time.Time) error {
	return errRemote
}
func (s *Store) ClaimJob(context.Context, string, []string, time.Duration, time.Time) (*store.Job, error) {
	return nil, errRemote
}
func (s *Store) RenewJobs(context.Context, string, []store.JobRef, time.Time) ([]store.JobStop, error) {
	return nil, errRemote
}
func (s *Store) AppendJobLogs(context.Context, store.JobRef, string, int, []store.LogLine, json.RawMessage, string) (int, error) {
	return 0, errRemote
}
func (s *Store) FinishJob(context.Context, store.JobRef, string, *store.Job) error { return errRemote }
func (s *Store) ReleaseJob(context.Context, store.JobRef, string, string, time.Time) error {
	return errRemote
}
func (s *Store) CancelJob(context.Context, string, string, string, string, time.Time) (*store.Job, error) {
	return nil, errRemote
}
func (s *Store) RecoverJobs(context.Context, time.Time, time.Duration) ([]*store.Job, error) {
	return nil, errRemote
}
func (s *Store) ExtendJobLeases(context.Context, time.Time) error  { return errRemote }
func (s *Store) RemoteQueue(context.Context) ([]*store.Job, error) { return nil, errRemote }
