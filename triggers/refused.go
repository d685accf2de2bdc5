package triggers

import (
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// RefusalRecorder is told of each delivery the endpoint answers without
// storing it as an event (store.RefusalLog is one). Refused is called on the
// request's goroutine before the answer is written, so it must return at
// once; it calls build, at most once, only when it keeps the refusal, and
// keeps what build returns.
type RefusalRecorder interface {
	Refused(build func() *workflows.Refusal)
}

// Bounds of what a refusal keeps of its request, so that a flood of large
// requests cannot make the buffered refusals large.
const (
	refusedBodyMax    = 64 << 10
	refusedHeadersMax = 50
	refusedValueMax   = 512
)

// credentialWords mark a header whose value may be a credential or a
// signature: its value is never kept.
var credentialWords = []string{"auth", "cookie", "credential", "hmac", "key", "pass", "secret", "session", "sig", "token"}

// refusedHeaders returns h with one value per name, each cut to
// refusedValueMax bytes, and the values of credential-bearing headers
// replaced by "***"; at most refusedHeadersMax names are kept.
func refusedHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, min(len(h), refusedHeadersMax))
	for name, values := range h {
		if len(out) == refusedHeadersMax {
			break
		}
		v := strings.Join(values, ", ")
		lower := strings.ToLower(name)
		for _, w := range credentialWords {
			if strings.Contains(lower, w) {
				v = "***"
				break
			}
		}
		if len(v) > refusedValueMax {
			v = v[:refusedValueMax]
		}
		out[name] = v
	}
	return out
}
