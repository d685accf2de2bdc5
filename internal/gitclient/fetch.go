package gitclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// commitRef is where a commit fetched by its hash alone is kept, so that it
// stays referenced after the fetch.
const commitRef = plumbing.ReferenceName("refs/hookflow/commit")

// maxListed is how many names an error or log line shows.
const maxListed = 5

// FetchOptions say what to fetch, how much, and how to log in.
type FetchOptions struct {
	// Ref is a branch, a tag, a full ref name (refs/…) or a commit hash (at
	// least 4 lower-case hex digits); empty or HEAD is the branch the
	// remote's HEAD names, or HEAD's commit when the remote names none.
	Ref string
	// Depth limits the history fetched to this many commits; 0 is all.
	Depth int
	// Auth is the login, from Remote.Auth; nil for none.
	Auth transport.AuthMethod
}

// Target is the commit a fetch found, and what it was asked for as.
type Target struct {
	// Commit is the commit; an annotated tag is peeled to it.
	Commit plumbing.Hash
	// Branch is the branch's short name when the ref is a branch, else
	// empty. Its commit is kept as refs/remotes/origin/<Branch>.
	Branch string
	what   string // "branch main", "tag v1.2", "commit 1a2b3c4d5e6f"
}

// String says what the target was asked for as, such as "branch main".
func (t *Target) String() string { return t.what }

// wanted is a ref of the remote and where fetching it stores it.
type wanted struct {
	name, local plumbing.ReferenceName
	branch      string
	what        string
}

// fetch is one Fetch: the remote, what to fetch, and where to.
type fetch struct {
	*Remote
	o      FetchOptions
	repo   *git.Repository
	remote *git.Remote
}

// Fetch asks the remote for its refs, finds the one o.Ref names, fetches it
// into repo and returns its commit. A commit named by its full hash that repo
// already holds is used without asking the remote. repo's work tree and HEAD
// are not touched, nor its configuration: the URL, which may hold
// credentials, is not written anywhere. Errors from talking to the remote are
// *Error; others are about this side or the ref, and permanent.
func (r *Remote) Fetch(ctx context.Context, repo *git.Repository, o FetchOptions) (*Target, error) {
	f := &fetch{Remote: r, o: o, repo: repo}
	ref := o.Ref
	if ref == "HEAD" {
		ref = ""
	}
	if isHex(ref) && len(ref) == 40 {
		if _, err := repo.CommitObject(plumbing.NewHash(ref)); err == nil {
			return &Target{Commit: plumbing.NewHash(ref), what: "commit " + ref[:12] + ", already fetched"}, nil
		}
	}

	f.remote = git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
	refs, err := f.remote.ListContext(ctx, &git.ListOptions{Auth: o.Auth, PeelingOption: git.AppendPeeled})
	if err != nil {
		return nil, r.explain(err, o.Auth)
	}
	w, err := r.pick(refs, ref)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return f.commit(ctx, refs, ref)
	}
	if !f.upToDate(refs, w) {
		spec := config.RefSpec("+" + w.name.String() + ":" + w.local.String())
		if err := f.specs(ctx, spec); err != nil {
			return nil, fmt.Errorf("fetching %s: %w", w.what, err)
		}
	}
	local, err := repo.Reference(w.local, true)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", w.what, err)
	}
	commit, err := peel(repo, local.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.what, err)
	}
	return &Target{Commit: commit, Branch: w.branch, what: w.what}, nil
}

// upToDate reports whether repo already holds, under w's local name, the
// object the remote lists for w: then a fetch would find nothing new, and a
// second connection to the remote is saved (a poll that finds no change).
func (f *fetch) upToDate(refs []*plumbing.Reference, w *wanted) bool {
	for _, r := range refs {
		if r.Name() != w.name || r.Type() != plumbing.HashReference {
			continue
		}
		local, err := f.repo.Reference(w.local, true)
		return err == nil && local.Hash() == r.Hash() && f.repo.Storer.HasEncodedObject(r.Hash()) == nil
	}
	return false
}

// pick finds the remote ref that ref names: the remote's HEAD when ref is
// empty, else a full ref name, a branch or a tag. It returns nil when ref can
// only be a commit hash, and an error when it is none of these.
func (r *Remote) pick(refs []*plumbing.Reference, ref string) (*wanted, error) {
	byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
	for _, r := range refs {
		byName[r.Name()] = r
	}
	branchOf := func(name plumbing.ReferenceName) *wanted {
		short := name.Short()
		return &wanted{name: name, local: plumbing.NewRemoteReferenceName("origin", short), branch: short, what: "branch " + short}
	}

	if ref == "" {
		head, ok := byName[plumbing.HEAD]
		switch {
		case !ok:
			return nil, errors.New("the remote has no HEAD to say which branch is its default; set " + r.settings.Ref)
		case head.Type() == plumbing.SymbolicReference && head.Target().IsBranch():
			if _, ok := byName[head.Target()]; !ok {
				return nil, fmt.Errorf("the remote's HEAD names %s, which does not exist; set %s", head.Target().Short(), r.settings.Ref)
			}
			return branchOf(head.Target()), nil
		default:
			// A server that does not say which branch HEAD is: check out
			// its commit, detached.
			return &wanted{name: plumbing.HEAD, local: plumbing.NewRemoteHEADReferenceName("origin"), what: "the remote's HEAD"}, nil
		}
	}

	if strings.HasPrefix(ref, "refs/") {
		name := plumbing.ReferenceName(ref)
		if _, ok := byName[name]; !ok {
			return nil, unknownRef(ref, refs, "the remote has no ref of that name")
		}
		if name.IsBranch() {
			return branchOf(name), nil
		}
		return &wanted{name: name, local: name, what: ref}, nil
	}

	branch, isBranch := byName[plumbing.NewBranchReferenceName(ref)]
	tag, isTag := byName[plumbing.NewTagReferenceName(ref)]
	switch {
	case isBranch && isTag:
		return nil, fmt.Errorf("ref %q names both a branch and a tag: write refs/heads/%s or refs/tags/%s", ref, ref, ref)
	case isBranch:
		return branchOf(branch.Name()), nil
	case isTag:
		return &wanted{name: tag.Name(), local: tag.Name(), what: "tag " + ref}, nil
	case isHex(ref) && len(ref) >= 4:
		return nil, nil
	}
	return nil, unknownRef(ref, refs, "the remote has no branch or tag of that name")
}

// commit fetches the commit that the hex string ref abbreviates, or spells
// in full. A commit that a branch or tag points at is fetched through it;
// another is asked for by hash where the server allows it, or else found
// among all branches and tags, which are fetched for it.
func (f *fetch) commit(ctx context.Context, refs []*plumbing.Reference, ref string) (*Target, error) {
	what := "commit " + ref
	if len(ref) == 40 {
		hash := plumbing.NewHash(ref)
		what = "commit " + ref[:12]
		var through plumbing.ReferenceName
		for _, r := range refs {
			// Peeled tags are listed as "refs/tags/v1^{}" with the commit.
			name := plumbing.ReferenceName(strings.TrimSuffix(r.Name().String(), "^{}"))
			if r.Type() == plumbing.HashReference && r.Hash() == hash && (name.IsBranch() || name.IsTag()) &&
				(through == "" || name.IsBranch() && !through.IsBranch()) {
				through = name
			}
		}
		var spec config.RefSpec
		if through != "" {
			spec = config.RefSpec("+" + through.String() + ":" + commitRef.String())
		} else {
			spec = config.RefSpec("+" + ref + ":" + commitRef.String())
		}
		err := f.specs(ctx, spec)
		switch {
		case err == nil:
			commit, err := peel(f.repo, hash)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			return &Target{Commit: commit, what: what}, nil
		case through != "" || ctx.Err() != nil:
			return nil, fmt.Errorf("fetching %s: %w", what, err)
		}
		// The server does not hand out commits by hash (most do not), or
		// not this one: look for it among all branches and tags.
	}
	err := f.specs(ctx, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	if err != nil {
		return nil, fmt.Errorf("fetching all branches and tags to find %s: %w", what, err)
	}
	hash, err := f.repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		where := "on any branch or tag"
		if f.o.Depth > 0 {
			where += fmt.Sprintf(" within depth %d (raise depth, or drop it)", f.o.Depth)
		}
		return nil, unknownRef(ref, refs, "the remote has no branch or tag of that name, and no commit with that hash "+where)
	}
	commit, err := peel(f.repo, *hash)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(commitRef, commit)); err != nil {
		return nil, err
	}
	return &Target{Commit: commit, what: "commit " + Short(commit)}, nil
}

// specs fetches specs with the login and depth. Being up to date already is
// no error.
func (f *fetch) specs(ctx context.Context, specs ...config.RefSpec) error {
	err := f.remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: specs,
		Auth:     f.o.Auth,
		Depth:    f.o.Depth,
		Tags:     git.NoTags,
		Force:    true,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return f.explain(err, f.o.Auth)
}

// peel is the commit that hash is, or that the annotated tag hash points to.
func peel(repo *git.Repository, hash plumbing.Hash) (plumbing.Hash, error) {
	for range 10 { // tags of tags, but not forever
		tag, err := repo.TagObject(hash)
		if err != nil {
			break
		}
		hash = tag.Target
	}
	if _, err := repo.CommitObject(hash); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s is not a commit: %w", Short(hash), err)
	}
	return hash, nil
}

// unknownRef is the error for a ref the remote does not have, naming some of
// the branches it does have.
func unknownRef(ref string, refs []*plumbing.Reference, why string) error {
	var branches []string
	for _, r := range refs {
		if r.Name().IsBranch() {
			branches = append(branches, r.Name().Short())
		}
	}
	slices.Sort(branches)
	msg := fmt.Sprintf("unknown ref %q: %s", ref, why)
	if len(branches) > 0 {
		msg += "; its branches are " + List(branches)
	}
	return errors.New(msg)
}

// isHex reports whether s is made of lower-case hexadecimal digits only,
// as git writes hashes.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// List shows up to five names, and how many more there are, for messages.
func List(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}

// Short abbreviates a commit hash for messages; "(none)" for no commit.
func Short(h plumbing.Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()[:12]
}
