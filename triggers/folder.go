package triggers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a watched folder must be quiet before it is
// reloaded, so that a burst of saves (an editor, a git checkout, a copy) costs
// one reload.
const DefaultDebounce = 300 * time.Millisecond

// WatchFolder watches dir and every folder below it, except hidden ones such
// as .git, and calls reload once things have been quiet for debounce (0 means
// DefaultDebounce). Folders, not files, are watched, so an editor that saves by
// writing a temporary file and renaming it over the old one still triggers a
// reload, and folders created later are watched as they appear.
//
// reload is called from WatchFolder's own goroutine, one call at a time; its
// error is the caller's to report (Source.Reload reports through onError).
// WatchFolder returns nil when ctx is done, or an error if the watch cannot be
// set up.
func WatchFolder(ctx context.Context, dir string, debounce time.Duration, reload func(ctx context.Context) error, logger *slog.Logger) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	dir = filepath.Clean(dir)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := watchTree(w, dir, logger); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}

	// quiet fires when no change has been seen for debounce; it is nil while
	// nothing is pending.
	timer := time.NewTimer(debounce)
	timer.Stop()
	var quiet <-chan time.Time
	pending := func() {
		timer.Reset(debounce)
		quiet = timer.C
	}
	// Files may have changed between the caller's first load and the watch
	// being in place; one reload catches up with them.
	pending()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				// Indexers and virus scanners touch modes; contents are unchanged.
				continue
			}
			if ev.Has(fsnotify.Create) && !hiddenName(ev.Name) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					// Files written into the folder before its watch was added
					// are read by the reload this event schedules.
					logWatchError(watchTree(w, ev.Name, logger), ev.Name, logger)
				}
			}
			if ev.Name == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				logger.Warn("workflows folder removed or renamed; changes are no longer seen until restart", "dir", dir)
			}
			pending()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			logger.Warn("watching workflows folder", "dir", dir, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost, perhaps folder creations among them:
				// watch everything again and reload to catch up.
				logWatchError(watchTree(w, dir, logger), dir, logger)
				pending()
			}
		case <-quiet:
			quiet = nil
			if err := reload(ctx); err != nil {
				logger.Debug("workflows reload after a change failed", "dir", dir, "err", err)
			}
		}
	}
}

// watchTree adds a watch for root and every folder below it, skipping hidden
// folders as workflows.LoadPaths does. It fails only if root cannot be watched;
// a folder below it that cannot be watched is logged and skipped, so that the
// rest still reload.
func watchTree(w *fsnotify.Watcher, root string, logger *slog.Logger) error {
	if fi, err := os.Stat(root); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", root)
	}
	if err := w.Add(root); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			// Removed while we walked (its parent's event reloads), or
			// unreadable; either way the rest is still watched.
			if !errors.Is(err, fs.ErrNotExist) {
				logger.Warn("watching workflows folder", "dir", p, "err", err)
			}
			return skipAfterError(d)
		case p == root || !d.IsDir():
			return nil
		case hiddenName(p):
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				logger.Warn("watching workflows folder", "dir", p, "err", err)
			}
			return filepath.SkipDir
		}
		return nil
	})
}

// skipAfterError is what a WalkDir callback returns to pass over d after an error.
func skipAfterError(d fs.DirEntry) error {
	if d != nil && d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

// logWatchError logs a failure to watch a folder found after the start.
func logWatchError(err error, dir string, logger *slog.Logger) {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		logger.Warn("watching workflows folder", "dir", dir, "err", err)
	}
}

// hiddenName reports whether the last element of p starts with a dot.
func hiddenName(p string) bool { return strings.HasPrefix(filepath.Base(p), ".") }
