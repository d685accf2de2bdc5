package workflows

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	{"B", 1},
}

// ParseBytes reads a size such as "512", "64Ki", "1Gi", "10MB" or "8MiB".
// Binary suffixes (Ki, KiB) are powers of 1024, decimal ones (K, KB) of 1000,
// as in Kubernetes quantities.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || (factor > 1 && n > (1<<62)/factor) {
		return 0, fmt.Errorf("invalid size %s: write a whole number of bytes, or one with a unit such as 64Ki, 512Mi, 1Gi", quoteText(s))
	}
	return n * factor, nil
}

// durationUnits are the units ParseDuration reads: Go's, and days and weeks.
// A day is 24 hours and a week 7 days, whatever the calendar says.
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond), "us": uint64(time.Microsecond), "µs": uint64(time.Microsecond),
	"μs": uint64(time.Microsecond), "ms": uint64(time.Millisecond), "s": uint64(time.Second),
	"m": uint64(time.Minute), "h": uint64(time.Hour), "d": 24 * uint64(time.Hour), "w": 7 * 24 * uint64(time.Hour),
}

// durationHint says how to write a duration, for errors.
const durationHint = "write numbers with units, such as 30s, 15m, 1h30m, 30d or 1w2d (units ns, us, ms, s, m, h, d, w)"

// ParseDuration reads a duration such as "30s", "1h30m", "30d", "1.5d" or
// "1w2d3h": numbers, each with a unit (ns, us, ms, s, m, h, d for 24 hours,
// w for 7 days), or a bare "0". Durations are never negative.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		shown := s
		if len(shown) > 40 {
			// A duration is short; more would echo whatever was written there.
			shown = shown[:40] + "…"
		}
		return 0, fmt.Errorf("invalid duration %q: %s", shown, durationHint)
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad()
	}
	var total uint64
	for rest := s; rest != ""; {
		whole, frac, scale, n := leadingNumber(rest)
		if n == 0 || (n == 1 && rest[0] == '.') {
			return bad()
		}
		rest = rest[n:]
		u := 0
		for u < len(rest) && rest[u] != '.' && (rest[u] < '0' || rest[u] > '9') {
			u++
		}
		unit, ok := durationUnits[rest[:u]]
		if !ok {
			return bad()
		}
		rest = rest[u:]
		// whole*unit + frac*unit/scale, refusing anything past the int64 range.
		if whole > math.MaxInt64/unit {
			return bad()
		}
		v := whole*unit + uint64(float64(frac)*(float64(unit)/float64(scale)))
		if v > math.MaxInt64 || total > math.MaxInt64-v {
			return bad()
		}
		total += v
	}
	return time.Duration(total), nil
}

// leadingNumber reads the decimal number at the start of s: its whole part,
// its fraction as frac/scale, and how many bytes it took. Digits past what
// the fraction can hold are read and dropped.
func leadingNumber(s string) (whole, frac, scale uint64, n int) {
	scale = 1
	for ; n < len(s) && s[n] >= '0' && s[n] <= '9'; n++ {
		if whole > (math.MaxUint64-9)/10 {
			whole = math.MaxUint64 // too big for any unit; the caller refuses it
			continue
		}
		whole = whole*10 + uint64(s[n]-'0')
	}
	if n < len(s) && s[n] == '.' {
		for n++; n < len(s) && s[n] >= '0' && s[n] <= '9'; n++ {
			if scale < 1e18 {
				frac, scale = frac*10+uint64(s[n]-'0'), scale*10
			}
		}
	}
	return whole, frac, scale, n
}
