package store

import "context"

type moreKey struct{}

// WithMore returns ctx carrying more, for Dispatch. A backend whose
// transactions wait their turn for its one writer (SQLite) calls More once
// it holds that turn, and stores what more returns in the same transaction:
// dispatches that arrived while it waited join the group commit instead of
// waiting for the next one. more is called at most once, from the goroutine
// that called Dispatch, and returns at most max items.
func WithMore(ctx context.Context, more func(max int) []*Dispatch) context.Context {
	return context.WithValue(ctx, moreKey{}, more)
}

// More returns the dispatches ctx's WithMore gives, at most max; none when
// ctx has none.
func More(ctx context.Context, max int) []*Dispatch {
	more, ok := ctx.Value(moreKey{}).(func(int) []*Dispatch)
	if !ok || max <= 0 {
		return nil
	}
	return more(max)
}
