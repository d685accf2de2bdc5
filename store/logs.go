package store

import "time"

// StampLogLines readies lines for AppendLogs, in a backend whose run row
// counts the run's log lines: once the counter has reserved their numbers and
// reached last, it returns the Seq of the first line (line i gets first+i),
// and gives each line without a Time now.
func StampLogLines(lines []LogLine, last int64, now time.Time) (first int64) {
	for i := range lines {
		if lines[i].Time.IsZero() {
			lines[i].Time = now
		}
	}
	return last - int64(len(lines)) + 1
}
