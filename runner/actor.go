package runner

import "context"

// actorKey is the context key of WithActor.
type actorKey struct{}

// WithActor returns ctx telling Dispatch and Rerun who starts runs by hand:
// the runs they queue under it record actor (store.Run.Actor). actor must
// hold no secret.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// actorOf is the actor WithActor put in ctx, or "".
func actorOf(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}
