package providers

import (
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// githubDelivery is the delivery id of the sample GitHub deliveries.
const githubDelivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

// githubHeaders are the headers of a GitHub delivery of event.
func githubHeaders(event string) map[string]string {
	return map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": githubDelivery}
}

func TestNormalizeGitHub(t *testing.T) {
	acmeWeb := func(ev workflows.Event) workflows.Event {
		ev.Delivery = githubDelivery
		ev.Repo = "acme/web"
		ev.CloneURL = "https://github.com/acme/web.git"
		return ev
	}
	push := acmeWeb(workflows.Event{
		Name: "push", Type: "push",
		Ref: "refs/heads/main", Branch: "main",
		Commit:  "3e5d7c9b1a2f4e6d8c0b9a7f5e3d1c2b4a6f8e0d",
		Before:  "9f1c2a7e4b3d5c6e7f8091a2b3c4d5e6f7a8b9c0",
		Sender:  "dana-r",
		Changed: []string{"cmd/health.go", "deploy/web.yaml", "README.md", "scripts/old.sh"},
	})
	runNormalizeCases(t, []normalizeCase{
		{name: "push to a branch", provider: "github", file: "github/push.json", headers: githubHeaders("push"), want: push},
		{name: "push as payload= form", provider: "github", file: "github/push.json", asForm: true, headers: githubHeaders("push"), want: push},
		{
			name: "push of a tag", provider: "github", file: "github/push_tag.json", headers: githubHeaders("push"),
			want: acmeWeb(workflows.Event{
				Name: "push", Type: "tag", Ref: "refs/tags/v1.4.0", Tag: "v1.4.0",
				Commit: "3e5d7c9b1a2f4e6d8c0b9a7f5e3d1c2b4a6f8e0d", Sender: "release-bot[bot]",
			}),
		},
		{
			name: "push deleting a branch", provider: "github", file: "github/push_delete.json", headers: githubHeaders("push"),
			want: acmeWeb(workflows.Event{
				Name: "push", Type: "push", Ref: "refs/heads/feature/old-login", Branch: "feature/old-login",
				Before: "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b", Sender: "dana-r",
			}),
		},
		{
			name: "merged pull request", provider: "github", file: "github/pull_request.json", headers: githubHeaders("pull_request"),
			want: acmeWeb(workflows.Event{
				Name: "pull_request", Type: "pull_request", Action: "closed",
				Branch: "main", Commit: "c0ffee1234567890abcdef1234567890abcdef12", Sender: "dana-r",
				PullRequest: workflows.PullRequest{Number: 42, Base: "main", Head: "feature/passkeys", Merged: true},
			}),
		},
		{
			name: "release", provider: "github", file: "github/release.json", headers: githubHeaders("release"),
			want: acmeWeb(workflows.Event{Name: "release", Type: "release", Action: "published", Tag: "v1.4.0", Sender: "dana-r"}),
		},
		{
			name: "ping", provider: "github", file: "github/ping.json", headers: githubHeaders("ping"),
			want: acmeWeb(workflows.Event{Name: "ping", Type: "ping", Sender: "dana-r"}),
		},
		{
			name: "create of a tag", provider: "github", file: "github/create_tag.json", headers: githubHeaders("create"),
			want: acmeWeb(workflows.Event{Name: "create", Type: "create", Ref: "refs/tags/v1.4.0", Tag: "v1.4.0", Sender: "dana-r"}),
		},
		{
			name: "other events keep their lower-cased name", provider: "github", file: "github/ping.json", headers: githubHeaders("Deployment_Status"),
			want: acmeWeb(workflows.Event{Name: "Deployment_Status", Type: "deployment_status", Sender: "dana-r"}),
		},
		{
			name: "no event header", provider: "github", file: "github/ping.json",
			want: workflows.Event{Repo: "acme/web", CloneURL: "https://github.com/acme/web.git", Sender: "dana-r"},
		},
	})
}

func TestNormalizeGiteaAndForgejo(t *testing.T) {
	runNormalizeCases(t, []normalizeCase{
		{
			name: "gitea push", provider: "gitea", file: "gitea/push.json",
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473", "X-GitHub-Event": "ignored"},
			want: workflows.Event{
				Name: "push", Type: "push", Delivery: "f6266f16-1bf3-46a5-9ea4-602e06ead473",
				Repo: "ops/infra", Ref: "refs/heads/develop", Branch: "develop",
				Commit: "98fe76dc54ba3210f1e2d3c4b5a697887766a5b4", Before: "12ab34cd56ef7890a1b2c3d4e5f6a7b8c9d0e1f2",
				CloneURL: "https://git.example.org/ops/infra.git", Sender: "sito", Changed: []string{"tls/issuer.yaml"},
			},
		},
		{
			name: "gitea pull request", provider: "gitea", file: "gitea/pull_request.json",
			headers: map[string]string{"X-Gitea-Event": "pull_request", "X-Gitea-Delivery": "0c1d2e3f-aaaa-bbbb-cccc-000000000005"},
			want: workflows.Event{
				Name: "pull_request", Type: "pull_request", Action: "synchronized", Delivery: "0c1d2e3f-aaaa-bbbb-cccc-000000000005",
				Repo: "ops/infra", Branch: "main", Commit: "abcabcabcabcabcabcabcabcabcabcabcabcabca",
				CloneURL: "https://git.example.org/ops/infra.git", Sender: "sito",
				PullRequest: workflows.PullRequest{Number: 5, Base: "main", Head: "gateway"},
			},
		},
		{
			name: "forgejo push of a new branch, sender from pusher", provider: "forgejo", file: "forgejo/push.json",
			headers: map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Delivery": "9d8c7b6a-0000-4000-8000-000000000001"},
			want: workflows.Event{
				Name: "push", Type: "push", Delivery: "9d8c7b6a-0000-4000-8000-000000000001",
				Repo: "kit/bot", Ref: "refs/heads/main", Branch: "main", Commit: "d00dfeed0123456789abcdef0123456789abcdef",
				CloneURL: "https://codeberg.example/kit/bot.git", Sender: "kit", Changed: []string{"go.mod", "main.go"},
			},
		},
		{
			name: "forgejo falls back to the Gitea headers", provider: "forgejo", file: "forgejo/push.json",
			headers: map[string]string{"X-Gitea-Event": "push", "X-Gitea-Delivery": "9d8c7b6a-0000-4000-8000-000000000002"},
			want: workflows.Event{
				Name: "push", Type: "push", Delivery: "9d8c7b6a-0000-4000-8000-000000000002",
				Repo: "kit/bot", Ref: "refs/heads/main", Branch: "main", Commit: "d00dfeed0123456789abcdef0123456789abcdef",
				CloneURL: "https://codeberg.example/kit/bot.git", Sender: "kit", Changed: []string{"go.mod", "main.go"},
			},
		},
	})
}

func TestNormalizeGitLab(t *testing.T) {
	billing := func(ev workflows.Event) workflows.Event {
		ev.Repo = "platform/billing"
		ev.CloneURL = "https://gitlab.example.com/platform/billing.git"
		ev.Sender = "mokafor"
		return ev
	}
	push := billing(workflows.Event{
		Name: "Push Hook", Type: "push", Delivery: "908a6d9e-45fd-46c8-97e6-c4f350f219dd",
		Ref: "refs/heads/main", Branch: "main",
		Commit:  "f0e1d2c3b4a5968778695a4b3c2d1e0f98765432",
		Before:  "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
		Changed: []string{"internal/retry/retry.go", "internal/charge/charge.go"},
	})
	systemPush := push
	systemPush.Name = "System Hook"
	runNormalizeCases(t, []normalizeCase{
		{
			name: "push, delivery from Idempotency-Key", provider: "gitlab", file: "gitlab/push.json",
			headers: map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "908a6d9e-45fd-46c8-97e6-c4f350f219dd", "X-Gitlab-Webhook-UUID": "other"},
			want:    push,
		},
		{
			name: "push through a system hook", provider: "gitlab", file: "gitlab/push.json",
			headers: map[string]string{"X-Gitlab-Event": "System Hook", "Idempotency-Key": "908a6d9e-45fd-46c8-97e6-c4f350f219dd"},
			want:    systemPush,
		},
		{
			name: "tag push, commit from checkout_sha", provider: "gitlab", file: "gitlab/tag_push.json",
			headers: map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Webhook-UUID": "3c5e7a9b-0000-4000-8000-00000000aaaa"},
			want: billing(workflows.Event{
				Name: "Tag Push Hook", Type: "tag", Delivery: "3c5e7a9b-0000-4000-8000-00000000aaaa",
				Ref: "refs/tags/v2.0.1", Tag: "v2.0.1", Commit: "f0e1d2c3b4a5968778695a4b3c2d1e0f98765432",
			}),
		},
		{
			name: "merged merge request", provider: "gitlab", file: "gitlab/merge_request.json",
			headers: map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": "e1e2e3e4-0000-4000-8000-000000000017"},
			want: billing(workflows.Event{
				Name: "Merge Request Hook", Type: "pull_request", Action: "merge", Delivery: "e1e2e3e4-0000-4000-8000-000000000017",
				Branch: "main", Commit: "f0e1d2c3b4a5968778695a4b3c2d1e0f98765432",
				PullRequest: workflows.PullRequest{Number: 17, Base: "main", Head: "feature/retries", Merged: true},
			}),
		},
		{
			name: "pipeline", provider: "gitlab", file: "gitlab/pipeline.json",
			headers: map[string]string{"X-Gitlab-Event": "Pipeline Hook"},
			want:    billing(workflows.Event{Name: "Pipeline Hook", Type: "pipeline"}),
		},
		{
			name: "no header: name from object_kind", provider: "gitlab", file: "gitlab/push.json",
			want: func() workflows.Event { ev := push; ev.Name, ev.Delivery = "push", ""; return ev }(),
		},
	})
}

func TestNormalizeBitbucket(t *testing.T) {
	storefront := func(ev workflows.Event) workflows.Event {
		ev.Delivery = "4c9a3d1e-7b2f-4e8a-9c6d-1f0e2d3c4b5a"
		ev.Repo = "northwind/storefront"
		ev.CloneURL = "https://bitbucket.org/northwind/storefront.git"
		ev.Sender = "nhaddad"
		return ev
	}
	payments := func(ev workflows.Event) workflows.Event {
		ev.Delivery = "b7f0c2de-1111-4222-8333-444455556666"
		ev.Repo = "PAY/payments-api"
		ev.CloneURL = "https://bitbucket.example.net/scm/pay/payments-api.git"
		ev.Sender = "jdoe"
		return ev
	}
	cloud := func(key string) map[string]string {
		return map[string]string{"X-Event-Key": key, "X-Request-UUID": "4c9a3d1e-7b2f-4e8a-9c6d-1f0e2d3c4b5a"}
	}
	server := func(key string) map[string]string {
		return map[string]string{"X-Event-Key": key, "X-Request-Id": "b7f0c2de-1111-4222-8333-444455556666"}
	}
	runNormalizeCases(t, []normalizeCase{
		{
			name: "cloud push", provider: "bitbucket", file: "bitbucket/cloud_push.json", headers: cloud("repo:push"),
			want: storefront(workflows.Event{
				Name: "repo:push", Type: "push", Ref: "refs/heads/main", Branch: "main",
				Commit: "4f8a2c6e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a", Before: "2b4d6f8a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c",
			}),
		},
		{
			name: "cloud merged pull request", provider: "bitbucket", file: "bitbucket/cloud_pullrequest_fulfilled.json", headers: cloud("pullrequest:fulfilled"),
			want: storefront(workflows.Event{
				Name: "pullrequest:fulfilled", Type: "pull_request", Action: "fulfilled", Branch: "main", Commit: "9e8d7c6b5a49",
				PullRequest: workflows.PullRequest{Number: 88, Base: "main", Head: "feature/coupons", Merged: true},
			}),
		},
		{
			name: "server push of a new tag", provider: "bitbucket", file: "bitbucket/server_refs_changed.json", headers: server("repo:refs_changed"),
			want: payments(workflows.Event{
				Name: "repo:refs_changed", Type: "tag", Ref: "refs/tags/v3.2.0", Tag: "v3.2.0",
				Commit: "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b",
			}),
		},
		{
			name: "server merged pull request", provider: "bitbucket", file: "bitbucket/server_pr_merged.json", headers: server("pr:merged"),
			want: payments(workflows.Event{
				Name: "pr:merged", Type: "pull_request", Action: "merged", Branch: "master", Commit: "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0",
				PullRequest: workflows.PullRequest{Number: 314, Base: "master", Head: "feature/refunds", Merged: true},
			}),
		},
		{
			name: "server test connection", provider: "bitbucket", file: "bitbucket/server_refs_changed.json", headers: server("diagnostics:ping"),
			want: payments(workflows.Event{Name: "diagnostics:ping", Type: "ping"}),
		},
		{
			name: "other keys lower-cased", provider: "bitbucket", file: "bitbucket/cloud_push.json", headers: cloud("repo:Fork"),
			want: storefront(workflows.Event{Name: "repo:Fork", Type: "repo:fork"}),
		},
	})
}
