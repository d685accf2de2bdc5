package workflows

import "time"

// Refusal is a webhook delivery that was answered but not stored as an
// event: a bad signature, an unknown path, a wrong method, a body too large
// or malformed, a duplicate, or a server too busy or stopping. It answers
// "why didn't my hook fire?". It never holds a credential: Headers are
// redacted, and Body is kept only for a delivery that proved who sent it.
type Refusal struct {
	// ID sorts refusals in the order they happened (a ULID).
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Path   string    `json:"path"`
	Method string    `json:"method"`
	// Status is the HTTP status the sender was answered with.
	Status int `json:"status"`
	// Reason says what was wrong, concretely, without the expected
	// signature or token.
	Reason   string `json:"reason"`
	Remote   string `json:"remote,omitempty"`
	Provider string `json:"provider,omitempty"`
	Delivery string `json:"delivery,omitempty"`
	// Headers are the request's, one value each, credentials replaced by
	// "***".
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the start of the body of an authenticated delivery (a
	// duplicate, or one that did not parse); empty otherwise.
	Body string `json:"body,omitempty"`
}
