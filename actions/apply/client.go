package applyaction

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// inClusterNamespaceFile holds the namespace of the pod hookflow runs in.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// cluster is what one Run talks to the API server with.
type cluster struct {
	dynamic dynamic.Interface
	// mapper turns kinds into resources from discovery, cached in memory for
	// the run; Reset forgets the cache after CRDs were added.
	mapper *restmapper.DeferredDiscoveryRESTMapper
	// namespace is the default for namespaced objects that name none.
	namespace string
}

// connect builds the clients for one run from the kubeconfig `kubeconfig`
// names, else the KUBECONFIG of the step's env (never the server's), else the
// pod's service account. Relative paths are resolved against dir.
func (a *Action) connect(env []string, dir string) (*cluster, error) {
	var paths []string
	switch {
	case a.kubeconfig != "":
		paths = []string{a.kubeconfig}
	case lookupEnv(env, "KUBECONFIG") != "":
		paths = filepath.SplitList(lookupEnv(env, "KUBECONFIG"))
	}
	for i, p := range paths {
		if p != "" && !filepath.IsAbs(p) {
			paths[i] = filepath.Join(dir, p)
		}
	}

	var cfg *rest.Config
	namespace := "default"
	if len(paths) == 0 {
		if a.context != "" {
			return nil, fmt.Errorf("context: %q needs a kubeconfig: set kubeconfig, or KUBECONFIG in the step's env", a.context)
		}
		var err error
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, errors.New("no kubeconfig: set kubeconfig, or KUBECONFIG in the step's env, " +
				"or run hookflow in a pod with a service account")
		}
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
		if b, err := os.ReadFile(inClusterNamespaceFile); err == nil && strings.TrimSpace(string(b)) != "" {
			namespace = strings.TrimSpace(string(b))
		}
	} else {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: paths}
		if a.kubeconfig != "" {
			rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: paths[0]}
		} else if !anyExists(paths) {
			return nil, fmt.Errorf("KUBECONFIG: no such file: %s", strings.Join(paths, ", "))
		}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: a.context})
		var err error
		if cfg, err = cc.ClientConfig(); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		if ns, _, err := cc.Namespace(); err == nil && ns != "" {
			namespace = ns
		}
	}
	if a.namespace != "" {
		namespace = a.namespace
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "hookflow"
	// client-go's default of 5 requests a second would make a folder of
	// manifests take minutes; the server's own flow control still applies.
	cfg.QPS, cfg.Burst = 50, 100

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return &cluster{
		dynamic:   dyn,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		namespace: namespace,
	}, nil
}

// lookupEnv returns the value of key in env (KEY=value pairs), the last one
// winning as in a process environment.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
