package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultMaxFileBytes is the largest workflow file a Loader reads when no
// other limit is set (the server's limits.max_workflow_bytes).
const DefaultMaxFileBytes = 1 << 20

// Loader reads workflow files into a Set. Each file is checked before it is
// read, and refused with an error naming it when it is larger than
// MaxFileBytes, is not a regular file, or is reached through a link that leads
// out of the folder being loaded. A folder's links are all checked, whatever
// their names; links to folders are not followed.
type Loader struct {
	// Actions checks `uses:` steps; nil leaves them unchecked.
	Actions ActionChecker
	// MaxFileBytes is the largest file read; 0 is DefaultMaxFileBytes.
	MaxFileBytes int64
}

// LoadPaths reads paths with the default limits: see Loader.Paths.
func LoadPaths(actions ActionChecker, paths ...string) (*Set, error) {
	return Loader{Actions: actions}.Paths(paths...)
}

// Paths reads every workflow file in paths (files, or folders searched
// recursively for *.yaml and *.yml, skipping hidden folders) into a Set whose
// revision is a hash of the files' names and contents. A file named in paths
// is read wherever it is; a link inside a folder must stay inside that
// folder. Every problem in every file is returned, as an ErrorList.
func (l Loader) Paths(paths ...string) (*Set, error) {
	ld := &loading{Loader: l, hash: sha256.New()}
	for _, root := range paths {
		fi, err := os.Stat(root)
		switch {
		case err != nil:
			ld.errs = append(ld.errs, &PosError{File: root, Msg: err.Error()})
		case fi.IsDir():
			ld.folder(root)
		default:
			ld.file(root, fi, func() (fs.File, error) { return os.Open(root) })
		}
	}
	if err := ld.errs.err(); err != nil {
		return nil, err
	}
	return NewSet(hex.EncodeToString(ld.hash.Sum(nil))[:12], ld.list)
}

// FS reads every workflow file below dir in fsys into a Set at revision, by
// the rules of Paths, naming each file by its path in fsys. Whether a link
// may be followed is fsys's to decide: give it the FS of an *os.Root to keep
// links inside the root.
func (l Loader) FS(fsys fs.FS, dir, revision string) (*Set, error) {
	ld := &loading{Loader: l}
	ld.tree(fsys, dir, func(p string) string { return p })
	if err := ld.errs.err(); err != nil {
		return nil, err
	}
	return NewSet(revision, ld.list)
}

// loading is one Loader call's progress.
type loading struct {
	Loader
	hash hash.Hash // of every file read, when the revision is made here
	list []*Workflow
	errs ErrorList
}

// folder reads the files below root, through an *os.Root so that no link
// leads out of it.
func (ld *loading) folder(root string) {
	r, err := os.OpenRoot(root)
	if err != nil {
		ld.errs = append(ld.errs, &PosError{File: root, Msg: err.Error()})
		return
	}
	defer r.Close()
	ld.tree(r.FS(), ".", func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) })
}

// tree reads the workflow files below dir in fsys, naming each name(path).
func (ld *loading) tree(fsys fs.FS, dir string, name func(string) string) {
	fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			ld.fail(name(p), "%s", pathError(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		workflow := path.Ext(p) == ".yaml" || path.Ext(p) == ".yml"
		var fi fs.FileInfo
		if d.Type()&fs.ModeSymlink != 0 {
			// Every link is resolved, so that one out of the folder is
			// refused whatever it is named; fsys refuses to follow it.
			if fi, err = fs.Stat(fsys, p); err != nil {
				ld.fail(name(p), "a link out of the folder, or to nothing (%s): a link must be relative and lead to a file or folder inside it", pathError(err))
				return nil
			}
			if fi.IsDir() {
				return nil
			}
		}
		if !workflow {
			return nil
		}
		if fi == nil {
			if fi, err = d.Info(); err != nil {
				ld.fail(name(p), "%s", pathError(err))
				return nil
			}
		}
		ld.file(name(p), fi, func() (fs.File, error) { return fsys.Open(p) })
		return nil
	})
}

// file parses one workflow file. fi describes it (links followed); open opens
// it. Nothing is read from a file that is not regular (a named pipe would
// block the reload) or larger than the limit.
func (ld *loading) file(file string, fi fs.FileInfo, open func() (fs.File, error)) {
	limit := ld.MaxFileBytes
	if limit <= 0 {
		limit = DefaultMaxFileBytes
	}
	tooLarge := fmt.Sprintf("the file has more than %d bytes, the most a workflow file may have (limits.max_workflow_bytes)", limit)
	switch {
	case !fi.Mode().IsRegular():
		ld.fail(file, "not a regular file (%s)", fi.Mode().Type())
		return
	case fi.Size() > limit:
		ld.fail(file, "%s", tooLarge)
		return
	}
	f, err := open()
	if err != nil {
		ld.fail(file, "%s", pathError(err))
		return
	}
	// The file may have grown since it was looked at.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	f.Close()
	switch {
	case err != nil:
		ld.fail(file, "%s", pathError(err))
		return
	case int64(len(data)) > limit:
		ld.fail(file, "%s", tooLarge)
		return
	}
	if ld.hash != nil {
		fmt.Fprintf(ld.hash, "%s\x00%d\x00", file, len(data))
		ld.hash.Write(data)
	}
	w, err := Parse(file, data, ld.Actions)
	if err != nil {
		ld.errs = append(ld.errs, err.(ErrorList)...)
		return
	}
	ld.list = append(ld.list, w)
}

// fail records a problem with a whole file, at its start.
func (ld *loading) fail(file, format string, args ...any) {
	ld.errs = append(ld.errs, &PosError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf(format, args...)})
}

// pathError is err without the path an *fs.PathError repeats: the message
// names the file already.
func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
