package postgres

import "time"

// timeArg is a store.TimeArg: a time to the millisecond, as SQLite keeps it.
func timeArg(t time.Time) any { return ms(t) }
