package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Request is one received webhook delivery, as the HTTP edge hands it over:
// the verified raw body and the parts of the request normalisation reads.
type Request struct {
	Method string
	// Path is the trigger path the delivery arrived on, as workflows name it:
	// "github" for a POST to /hooks/github.
	Path    string
	Headers http.Header
	Query   url.Values
	Body    []byte
	// ContentType is the request's Content-Type; when empty, the Content-Type
	// entry of Headers is used.
	ContentType string
}

// MaxJSONDepth is how deeply objects and arrays may nest in a JSON payload.
// Real webhook payloads stay far below it; the limit keeps hostile input from
// making decoding and every later walk over the body expensive.
const MaxJSONDepth = 128

// Decode turns a delivery's payload into the value expressions see as
// event.body, and returns the body as text for event.raw.
//
//   - GET: the query string, decoded like a form (SPEC §2: GET puts the payload
//     in the query string).
//   - application/json or any */*+json type: JSON, numbers as float64; a
//     number beyond float64's range stays its text, a string.
//   - application/x-www-form-urlencoded: a map from field name to its value, or
//     to a list of values when the field repeats. When the field `payload` holds
//     JSON (GitHub's and Slack's form style), that JSON is the body instead.
//   - no Content-Type, or a form type on a body that is a JSON object or array
//     (what `curl -d '{…}'` sends): JSON when the body parses as JSON. These are
//     guesses, so a body that does not parse is raw text (or a form), not an
//     error.
//   - anything else: no body; the text is still in raw.
//
// An empty body is no payload rather than an error. Malformed JSON under a
// JSON type, or a malformed form, is a workflows.EInvalid error whose message
// says what is wrong and where, so the HTTP edge can answer 400 with it.
func Decode(r *Request) (body any, raw string, err error) {
	raw = string(r.Body)
	if r.Method == http.MethodGet {
		body, err = formBody(r.Query)
		return body, raw, err
	}
	mt := mediaType(r)
	switch {
	case len(bytes.TrimSpace(r.Body)) == 0:
		return nil, raw, nil
	case isJSONType(mt):
		body, err = decodeJSON(r.Body, "")
		return body, raw, err
	case mt == "" || mt == formType:
		if looksLikeJSON(r.Body) {
			if body, err := decodeJSON(r.Body, ""); err == nil {
				return body, raw, nil
			}
		}
		if mt == "" {
			return nil, raw, nil
		}
		values, err := url.ParseQuery(raw)
		if err != nil {
			return nil, raw, workflows.Errorf(workflows.EInvalid, "invalid form body: %v", err)
		}
		body, err = formBody(values)
		return body, raw, err
	default:
		return nil, raw, nil
	}
}

// formType is the media type of HTML form posts, and of GitHub's form style.
const formType = "application/x-www-form-urlencoded"

// mediaType returns the request's media type in lower case without parameters,
// e.g. "application/json" for "Application/JSON; charset=utf-8". It does not
// use mime.ParseMediaType because that rejects whole headers over a bad
// parameter, and a sender's sloppy charset should not turn JSON into raw text.
func mediaType(r *Request) string {
	ct := r.ContentType
	if ct == "" {
		ct = r.Headers.Get("Content-Type")
	}
	ct, _, _ = strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// isJSONType reports whether a media type carries JSON.
func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// looksLikeJSON reports whether data starts, after white space, with an object
// or an array: the only payloads worth sniffing as JSON when a sender names no
// Content-Type.
func looksLikeJSON(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// decodeJSON decodes data, refusing nesting beyond MaxJSONDepth. where names
// the part of the request that held it in error messages ("" for the body).
func decodeJSON(data []byte, where string) (any, error) {
	if where != "" {
		where = " in " + where
	}
	if offset := tooDeep(data, MaxJSONDepth); offset >= 0 {
		return nil, workflows.Errorf(workflows.EInvalid, "invalid JSON%s at byte %d: nested deeper than %d levels", where, offset, MaxJSONDepth)
	}
	v, err := workflows.UnmarshalJSONValue(data)
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, workflows.Errorf(workflows.EInvalid, "invalid JSON%s at byte %d: %s", where, syntax.Offset, syntax.Error())
		}
		return nil, workflows.Errorf(workflows.EInvalid, "invalid JSON%s: %v", where, err)
	}
	return v, nil
}

// tooDeep returns the offset of the first [ or { that opens level limit+1, or -1
// when data nests no deeper than limit. It runs before json.Unmarshal, which
// would accept up to 10,000 levels and build the whole tree first. Brackets
// inside strings do not count; data need not be valid JSON, since Unmarshal
// reports syntax errors afterwards.
func tooDeep(data []byte, limit int) int {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > limit {
				return i
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return -1
}

// formBody turns form fields into a body: one value → a string, several → a
// list of strings. A `payload` field whose single value looks like JSON is
// GitHub's (and Slack's) form encoding of a JSON payload, so the decoded JSON
// becomes the body; a `payload` field holding plain text stays an ordinary
// field, since generic senders may well use that name.
func formBody(values url.Values) (any, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if p := values["payload"]; len(p) == 1 && looksLikeJSON([]byte(p[0])) {
		return decodeJSON([]byte(p[0]), "form field payload")
	}
	m := make(map[string]any, len(values))
	for k, vs := range values {
		switch len(vs) {
		case 0:
			m[k] = ""
		case 1:
			m[k] = vs[0]
		default:
			l := make([]any, len(vs))
			for i, v := range vs {
				l[i] = v
			}
			m[k] = l
		}
	}
	return m, nil
}
