package sqlite

import "time"

// Every time column holds unix milliseconds (see the schema).

// millis is t as unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// timeArg is millis as a store.TimeArg.
func timeArg(t time.Time) any { return millis(t) }

// fromMillis is the UTC time of unix milliseconds ms.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
