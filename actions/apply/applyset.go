package applyaction

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The labels and annotations of the ApplySet specification (KEP 3659), as
// `kubectl apply --prune --applyset` writes them, so that kubectl and
// hookflow agree about which objects belong to a set.
const (
	// applySetIDLabel marks the parent object, with the set's id.
	applySetIDLabel = "applyset.kubernetes.io/id"
	// partOfLabel marks a member object, with the id of its set.
	partOfLabel = "applyset.kubernetes.io/part-of"
	// toolingAnnotation names the tool that manages the set: tool/version.
	toolingAnnotation = "applyset.kubernetes.io/tooling"
	// groupKindsAnnotation lists the kinds of the members, so that pruning
	// knows which resources to look through.
	groupKindsAnnotation = "applyset.kubernetes.io/contains-group-kinds"
	// namespacesAnnotation lists the namespaces, other than the parent's,
	// that members are in.
	namespacesAnnotation = "applyset.kubernetes.io/additional-namespaces"
	// toolName is hookflow's name in toolingAnnotation. A parent another
	// tool manages is never pruned from, as kubectl refuses one of ours.
	toolName = "hookflow"
)

var (
	secretKind    = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	configMapKind = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

// parentRef names an ApplySet's parent object; its namespace is settled when
// the step runs.
type parentRef struct {
	kind schema.GroupVersionKind
	name string
}

// parseParentRef reads `applyset`: NAME or secrets/NAME for a Secret, the
// kind kubectl uses by default, or configmaps/NAME for a ConfigMap.
func parseParentRef(s string) (parentRef, error) {
	ref := parentRef{kind: secretKind, name: s}
	if resource, name, ok := strings.Cut(s, "/"); ok {
		switch resource {
		case "secrets", "secret":
		case "configmaps", "configmap":
			ref.kind = configMapKind
		default:
			return parentRef{}, fmt.Errorf("applyset: %q: the parent is a Secret (NAME or secrets/NAME) or a ConfigMap (configmaps/NAME)", resource)
		}
		ref.name = name
	}
	if ref.name == "" {
		return parentRef{}, errors.New("applyset: name the set's parent object, e.g. applyset: web-deploy")
	}
	if errs := validation.IsDNS1123Subdomain(ref.name); len(errs) > 0 {
		return parentRef{}, fmt.Errorf("applyset: %q: %s", ref.name, errs[0])
	}
	return ref, nil
}

// applySetID is the id of the set whose parent is kind name in namespace, as
// the ApplySet specification defines it: a hash of the parent's identity, so
// that the same parent always stands for the same set.
func applySetID(kind schema.GroupKind, namespace, name string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind.Kind, kind.Group}, ".")))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}
