package helper

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestJoined checks that the second helper goes on only when the first says
// it is in the step's cgroups: not when that failed, nor when the first is
// gone without a word.
func TestJoined(t *testing.T) {
	for _, tc := range []struct {
		name, verdict, want string
	}{
		{"joined", joinedOK, ""},
		{"failed", "open /sys/fs/cgroup/pids/x/cgroup.procs: permission denied", "join cgroup: open /sys/fs/cgroup/pids/x/cgroup.procs: permission denied"},
		{"gone", "", "join cgroup: the first helper is gone"},
		{"partial", joinedOK[:3], "join cgroup: " + joinedOK[:3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			w.WriteString(tc.verdict)
			w.Close()
			// joined closes the descriptor it is given: a copy of r's.
			fd, err := syscall.Dup(int(r.Fd()))
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			err = joined(strconv.Itoa(fd))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
