package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// defaultWorkflows is the folder validate, doctor, run, match and serve read
// when none is named.
const defaultWorkflows = "workflows"

// workflowsFolder is what the commands that read a workflows folder tell
// about it before they read it, so that a newcomer sees which folder was read
// and why its errors may have nothing to do with their workflows.
type workflowsFolder struct {
	dir     string
	files   int  // *.yaml and *.yml files, hidden folders skipped as the loader does
	goFiles bool // *.go files or a testdata folder: a source folder
}

// inspectFolder counts the workflow files under dir and notices Go sources.
// A folder that cannot be read counts nothing; the loader reports why.
func inspectFolder(dir string) workflowsFolder {
	f := workflowsFolder{dir: dir}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.Name() == "testdata" {
				f.goFiles = true
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml":
			f.files++
		case ".go":
			f.goFiles = true
		}
		return nil
	})
	return f
}

// isDefault says whether the folder is the one read when none is named.
func (f workflowsFolder) isDefault() bool {
	return filepath.Clean(f.dir) == defaultWorkflows
}

// display is the folder as the user would type it: ./workflows rather than
// workflows.
func (f workflowsFolder) display() string {
	if filepath.IsAbs(f.dir) || strings.HasPrefix(f.dir, ".") {
		return f.dir
	}
	return "." + string(os.PathSeparator) + f.dir
}

// sourceHint is the warning for a folder that holds Go code, or "".
func (f workflowsFolder) sourceHint() string {
	if !f.goFiles {
		return ""
	}
	return f.display() + " holds Go files or testdata: it looks like a source folder, not a folder of workflow files"
}
