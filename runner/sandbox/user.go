package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
)

// credential resolves `user:`: a user name, a numeric uid, or uid:gid. It is
// nil when the step runs as the server's user. A server that does not run as
// root cannot switch users, so it fails then, rather than run the step as
// someone other than asked.
//
// When nothing hides the server's files from the step (hides is false: the
// process level without Landlock), the user must not be able to read them
// through their permissions either.
func (h *Host) credential(name, workspace string, hides bool) (*helper.Credential, error) {
	if name == "" {
		return nil, nil
	}
	c, err := lookupUser(name)
	if err != nil {
		return nil, fmt.Errorf("sandbox user %q: %w", name, err)
	}
	if uid := os.Getuid(); uid != 0 {
		if c.UID == uint32(uid) {
			return nil, nil
		}
		return nil, fmt.Errorf("sandbox user %q: the server runs as uid %d, not as root, so it cannot run steps as another user", name, uid)
	}
	if err := canReach(c, workspace); err != nil {
		return nil, fmt.Errorf("sandbox user %q (uid %d) cannot reach the workspace: %w; allow others to search it (chmod o+x), or leave user empty", name, c.UID, err)
	}
	if !hides {
		for _, p := range h.protected {
			if canRead(c, p) {
				return nil, fmt.Errorf("sandbox user %q (uid %d) could read %s, which nothing hides at this level without Landlock; make it private to the server's user (chmod go-rwx), or use level isolated", name, c.UID, p)
			}
		}
	}
	return c, nil
}

// lookupUser finds a user by name or number.
func lookupUser(name string) (*helper.Credential, error) {
	if u, g, ok := strings.Cut(name, ":"); ok {
		uid, err1 := strconv.ParseUint(u, 10, 32)
		gid, err2 := strconv.ParseUint(g, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, errors.New("write a user name, a uid, or uid:gid")
		}
		return &helper.Credential{UID: uint32(uid), GID: uint32(gid)}, nil
	}
	var u *user.User
	var err error
	if n, numErr := strconv.ParseUint(name, 10, 32); numErr == nil {
		if u, err = user.LookupId(name); err != nil {
			// A uid without an account: its own number as its group.
			return &helper.Credential{UID: uint32(n), GID: uint32(n)}, nil
		}
	} else if u, err = user.Lookup(name); err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	c := &helper.Credential{UID: uint32(uid), GID: uint32(gid)}
	ids, _ := u.GroupIds()
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil && uint32(g) != c.GID {
			c.Groups = append(c.Groups, uint32(g))
		}
	}
	return c, nil
}

// canReach checks that user c may search every folder above p, as needed
// to use the workspace's absolute paths ($HOOKFLOW_OUTPUT and the others),
// and for bubblewrap, running as the user, to mount it.
func canReach(c *helper.Credential, p string) error {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !may(c, fi, 0o1) {
			return fmt.Errorf("%s is mode %04o, owned by uid %d", d, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid)
		}
		if d == "/" {
			return nil
		}
	}
}

// canRead reports whether user c could read the file or list the folder p.
func canRead(c *helper.Credential, p string) bool {
	fi, err := os.Stat(p)
	return err == nil && canReach(c, p) == nil && may(c, fi, 0o4)
}

// may reports whether the file's mode grants user c perm (0o4 read, 0o1
// search or execute), as its owner, one of its group or anyone.
func may(c *helper.Credential, fi fs.FileInfo, perm fs.FileMode) bool {
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case st.Uid == c.UID:
		perm <<= 6
	case st.Gid == c.GID || slices.Contains(c.Groups, st.Gid):
		perm <<= 3
	}
	return fi.Mode().Perm()&perm != 0
}

// chownTree gives the workspace to the step's user, without following
// symbolic links out of it (os.Root), and leaving files with other hard
// links alone: a step of that user could have linked a file it may not
// change into the workspace, for the next step to hand it over.
func chownTree(dir string, c *helper.Credential) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				return nil
			}
		}
		return root.Lchown(p, int(c.UID), int(c.GID))
	})
}
