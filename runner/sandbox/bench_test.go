package sandbox

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkStep measures what confining a step costs: /bin/true started and
// waited for bare (fork and exec from Go), at the process level, and
// isolated, each also with memory and pids limits (a cgroup of its own where
// the server may make one, rlimits elsewhere).
func BenchmarkStep(b *testing.B) {
	s := newServer(b)
	h := s.host(b)
	requireIsolated(b, h)
	limits := func(p *workflows.Sandbox) { p.Memory, p.Pids = 256<<20, 64 }
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name   string
		policy workflows.Sandbox
	}{
		{"process", policy(workflows.LevelProcess)},
		{"process+limits", policy(workflows.LevelProcess, limits)},
		{"isolated", policy(workflows.LevelIsolated)},
		{"isolated+limits", policy(workflows.LevelIsolated, limits)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := confine(b, h, bc.policy, s.ws)
			b.Log(c)
			for b.Loop() {
				cmd := &exec.Cmd{Path: "/bin/true", Args: []string{"true"}, Env: []string{}, Dir: s.ws}
				p, err := c.Start(cmd)
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
				p.Signal(syscall.SIGKILL)
				if err := p.Release(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
