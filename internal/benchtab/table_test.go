package main

import (
	"strings"
	"testing"
)

const wrkReport = `Running 5s test @ http://127.0.0.1:40000/hooks/gh
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.20ms    4.10ms  80.01ms   90.00%
    Req/Sec     2.10k   150.00     2.40k    70.00%
  Latency Distribution
     50%   14.90ms
     75%   16.80ms
     90%   19.50ms
     99%   33.12ms
  10479 requests in 5.00s, 2.69MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   2095.12
Transfer/sec:    550.93KB
`

func TestParseWrk(t *testing.T) {
	l, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	if l.rate != 2095.12 || l.p99 != 33.12 || l.non2xx != 12 {
		t.Errorf("parsed %+v", l)
	}
	l, err = parseWrk(strings.Replace(wrkReport, "33.12ms", "812.00us", 1))
	if err != nil || l.p99 != 0.812 {
		t.Errorf("p99 in µs: %+v %v", l, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1"); err == nil {
		t.Error("a report without a rate parsed")
	}
}

func TestParseP99(t *testing.T) {
	for out, want := range map[string]float64{
		"BenchmarkMatch10000-2   5000   401234 ns/op   452.0 p50-µs   812.5 p99-µs": 812.5,
		"BenchmarkMatch10000-2   5000   401234 ns/op   1.25 p99-ms":                 1250,
	} {
		if got, err := parseP99(out); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", out, got, err, want)
		}
	}
	if _, err := parseP99("BenchmarkMatch10000-2 5000 401234 ns/op"); err == nil {
		t.Error("no p99 parsed as one")
	}
}

func TestFigureVerdict(t *testing.T) {
	tb := &table{}
	rate := tb.add(&figure{id: "P1", what: "rate", unit: "req/s", goal: 0.6, ref: map[string]float64{"after": 10000}, refWhat: "of"})
	rate.values["after"] = 5000
	lat := tb.add(&figure{id: "P3", what: "p50", unit: "ms", goal: 5, atMost: true})
	lat.values["after"] = 4.2
	missing := tb.add(&figure{id: "P5", what: "rss", unit: "MiB", goal: 40, atMost: true})
	missing.why["after"] = "no server"
	if v := rate.verdict("after"); v != "miss" {
		t.Errorf("0.5× against ≥ 0.6×: %s", v)
	}
	if v := lat.verdict("after"); v != "ok" {
		t.Errorf("4.2 against ≤ 5: %s", v)
	}
	if v, c := missing.verdict("after"), missing.cell("after"); v != "n/a" || c != "n/a (no server)" {
		t.Errorf("missing: %s %q", v, c)
	}
	if c := rate.cell("after"); c != "5,000 req/s = 0.50× of 10,000" {
		t.Errorf("cell %q", c)
	}
}

func TestReplaceBetween(t *testing.T) {
	doc := "# x\n" + readmeBegin + "\nold\n" + readmeEnd + "\nafter\n"
	got, err := replaceBetween(doc, "new\n")
	if err != nil || got != "# x\n"+readmeBegin+"\nnew\n"+readmeEnd+"\nafter\n" {
		t.Errorf("%q %v", got, err)
	}
	if _, err := replaceBetween("no markers", "new"); err == nil {
		t.Error("a README without markers was rewritten")
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	if p := percentile(v, 50); p != 3 {
		t.Errorf("median %v", p)
	}
	if p := percentile(v, 99); p != 5 {
		t.Errorf("p99 %v", p)
	}
	if v[0] != 5 {
		t.Error("percentile sorted its input")
	}
}
