package triggers

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// testDebounce is short so that tests are quick; nothing asserts how fast a
// reload comes, only that it comes and how many came once things are quiet.
const testDebounce = 100 * time.Millisecond

// folderWatch is a WatchFolder running on a temp folder, counting reloads.
type folderWatch struct {
	dir     string
	reloads atomic.Int32
	cancel  context.CancelFunc
	done    chan error
}

// startWatch runs WatchFolder on a new folder (with the given subfolders made
// first) and returns once the watch demonstrably sees changes, with the reload
// count back at zero.
func startWatch(t *testing.T, subfolders ...string) *folderWatch {
	t.Helper()
	fw := &folderWatch{dir: t.TempDir(), done: make(chan error, 1)}
	for _, sub := range subfolders {
		if err := os.MkdirAll(filepath.Join(fw.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var running atomic.Bool
	reload := func(context.Context) error {
		if !running.CompareAndSwap(false, true) {
			t.Error("reload called while another reload was running")
		}
		defer running.Store(false)
		// Slow enough that overlapping calls, were there any, would be seen.
		time.Sleep(20 * time.Millisecond)
		fw.reloads.Add(1)
		return errors.New("reload errors are the caller's to report")
	}
	ctx, cancel := context.WithCancel(context.Background())
	fw.cancel = cancel
	go func() { fw.done <- WatchFolder(ctx, fw.dir, testDebounce, reload, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		<-fw.done
	})

	// WatchFolder has no ready signal: write until a reload shows it watches.
	probe := filepath.Join(fw.dir, "probe.yaml")
	fw.waitFor(t, 1, func() { writeTestFile(t, probe, "probe") })
	fw.settle(t)
	fw.reloads.Store(0)
	return fw
}

// waitFor waits up to 30s for at least n reloads, calling poke (if not nil)
// now and every half second until then.
func (fw *folderWatch) waitFor(t *testing.T, n int32, poke func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for next := time.Now(); fw.reloads.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d reloads after 30s, want %d", fw.reloads.Load(), n)
		}
		if poke != nil && time.Now().After(next) {
			poke()
			next = time.Now().Add(500 * time.Millisecond)
		}
	}
}

// settle waits until no reload has come for ten debounce periods.
func (fw *folderWatch) settle(t *testing.T) {
	t.Helper()
	quiet := 10 * testDebounce
	last, since := fw.reloads.Load(), time.Now()
	for time.Since(since) < quiet {
		time.Sleep(10 * time.Millisecond)
		if n := fw.reloads.Load(); n != last {
			last, since = n, time.Now()
		}
	}
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchFolderBurstReloadsOnce(t *testing.T) {
	t.Parallel()
	fw := startWatch(t)
	name := filepath.Join(fw.dir, "deploy.yaml")
	for i := range 10 {
		writeTestFile(t, name, "version "+string(rune('0'+i)))
		time.Sleep(5 * time.Millisecond)
	}
	fw.waitFor(t, 1, nil)
	fw.settle(t)
	if n := fw.reloads.Load(); n != 1 {
		t.Errorf("%d reloads after a burst of writes, want 1", n)
	}
}

func TestWatchFolderSubfolderCreatedLater(t *testing.T) {
	t.Parallel()
	fw := startWatch(t)
	nested := filepath.Join(fw.dir, "team", "ci")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	fw.waitFor(t, 1, nil) // the new folder itself is a change
	fw.settle(t)
	fw.reloads.Store(0)

	writeTestFile(t, filepath.Join(nested, "build.yaml"), "steps: []")
	fw.waitFor(t, 1, nil)
}

func TestWatchFolderEditorSaveByRename(t *testing.T) {
	t.Parallel()
	fw := startWatch(t, "sub")
	name := filepath.Join(fw.dir, "sub", "deploy.yaml")
	writeTestFile(t, name, "first")
	fw.waitFor(t, 1, nil)
	fw.settle(t)
	// Twice: a watch on the file itself would be lost after the first rename.
	for want := int32(2); want <= 3; want++ {
		tmp := filepath.Join(fw.dir, "sub", ".deploy.yaml.swp")
		writeTestFile(t, tmp, "saved "+string(rune('0'+want)))
		if err := os.Rename(tmp, name); err != nil {
			t.Fatal(err)
		}
		fw.waitFor(t, want, nil)
		fw.settle(t)
	}
}

func TestWatchFolderSkipsHiddenFolders(t *testing.T) {
	t.Parallel()
	fw := startWatch(t, ".git")
	writeTestFile(t, filepath.Join(fw.dir, ".git", "index"), "busy")
	time.Sleep(10 * testDebounce)
	writeTestFile(t, filepath.Join(fw.dir, "deploy.yaml"), "changed")
	fw.waitFor(t, 1, nil)
	fw.settle(t)
	if n := fw.reloads.Load(); n != 1 {
		t.Errorf("%d reloads, want 1: a write in .git must not reload", n)
	}
}

func TestWatchFolderStopsWithContext(t *testing.T) {
	t.Parallel()
	fw := startWatch(t)
	fw.cancel()
	select {
	case err := <-fw.done:
		if err != nil {
			t.Errorf("WatchFolder returned %v after cancel, want nil", err)
		}
		fw.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("WatchFolder still running 30s after cancel")
	}
}

func TestWatchFolderMissingFolder(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nope")
	err := WatchFolder(context.Background(), dir, 0, func(context.Context) error { return nil }, slog.New(slog.DiscardHandler))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WatchFolder on a missing folder = %v, want a not-exist error", err)
	}
}
