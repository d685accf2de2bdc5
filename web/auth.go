package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
)

// Access (SPEC §8): the UI answers whom the API answers. With api tokens
// configured, the browser presents one in the api.SessionCookie cookie, which
// the login form sets (HttpOnly, SameSite=Strict, Secure over TLS) after
// api.Server.Authorize accepted it; with none, only loopback clients, and only
// under a loopback host name, so that a page on another site cannot reach the
// UI through DNS rebinding.
//
// CSRF: every form that changes something carries a token, an HMAC under a
// per-process key of a random value kept in the csrfCookie cookie (signed
// double submit); and the request must come from the UI's own origin
// (http.CrossOriginProtection: Sec-Fetch-Site, else Origin against Host).
// Both cookies are SameSite=Strict, so a cross-site form sends neither.

// csrfCookie holds the random value a browser's CSRF tokens are derived from.
const csrfCookie = "hookflow_csrf"

var (
	errCSRF        = errors.New("this form has expired or did not come from this page: reload the page and try again")
	errCrossOrigin = errors.New("this request came from another site; hookflow refuses it")
)

// maxTokenLength bounds what the login form compares.
const maxTokenLength = 4096

// tokensConfigured reports whether the API has tokens; without, the UI is
// loopback-only and needs no login.
func (u *UI) tokensConfigured() bool { return len(u.api.Tokens) > 0 }

// authorized reports whether api.Server.Authorize lets r through. The
// middleware itself decides, on r with a response that goes nowhere, so that
// the API's rule and its constant-time token check stay the only ones.
func (u *UI) authorized(r *http.Request) bool {
	passed := false
	probe := u.echo.NewContext(r, discard{header: http.Header{}})
	_ = u.api.Authorize(func(echo.Context) error { passed = true; return nil })(probe)
	return passed
}

// discard is a response writer for probes.
type discard struct{ header http.Header }

func (d discard) Header() http.Header       { return d.header }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// guard lets authorized clients through, sends browsers without a session to
// the login page, and checks the CSRF token of every form that changes
// something.
func (u *UI) guard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if api.HasAgentToken(r) {
			return u.fail(c, http.StatusUnauthorized, "Agent tokens may only use /api/v1/agent/, not the UI.")
		}
		if !u.tokensConfigured() && !api.LoopbackHost(r.Host) {
			return u.fail(c, http.StatusForbidden, "With no api token configured, the UI answers only on a loopback address: open it as http://localhost:PORT/ui/ or http://127.0.0.1:PORT/ui/.")
		}
		if !u.authorized(r) {
			if !u.tokensConfigured() {
				return u.fail(c, http.StatusForbidden, "The UI answers only loopback clients when no api token is configured.")
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return c.Redirect(http.StatusSeeOther, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()))
			}
			return u.fail(c, http.StatusUnauthorized, "Your session is missing or no longer valid: log in again.")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := u.checkCSRF(c); err != nil {
				return u.fail(c, http.StatusForbidden, err.Error())
			}
		}
		return next(c)
	}
}

// loginData is the login page's data.
type loginData struct {
	Next  string
	Error string
}

func (u *UI) loginPage(c echo.Context) error {
	if !u.tokensConfigured() {
		return c.Redirect(http.StatusSeeOther, "/ui/")
	}
	return u.render(c, http.StatusOK, "login", "Log in", "", loginData{Next: nextPath(c.QueryParam("next"))})
}

// login checks the token with the API's own rule and keeps it in the session
// cookie the API reads.
func (u *UI) login(c echo.Context) error {
	if !u.tokensConfigured() {
		return c.Redirect(http.StatusSeeOther, "/ui/")
	}
	if err := u.checkCSRF(c); err != nil {
		return u.fail(c, http.StatusForbidden, err.Error())
	}
	token := strings.TrimSpace(c.FormValue("token"))
	next := nextPath(c.FormValue("next"))
	if !u.tokenValid(c.Request(), token) {
		return u.render(c, http.StatusUnauthorized, "login", "Log in", "", loginData{Next: next, Error: "That token is not valid."})
	}
	c.SetCookie(&http.Cookie{Name: api.SessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: c.Scheme() == "https", SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, next)
}

// tokenValid asks Authorize about a request that carries token and nothing else.
func (u *UI) tokenValid(r *http.Request, token string) bool {
	if token == "" || len(token) > maxTokenLength {
		return false
	}
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + token}}
	return u.authorized(probe)
}

func (u *UI) logout(c echo.Context) error {
	if err := u.checkCSRF(c); err != nil {
		return u.fail(c, http.StatusForbidden, err.Error())
	}
	c.SetCookie(&http.Cookie{Name: api.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.Scheme() == "https", SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/ui/login")
}

// loggedIn reports whether the browser holds a session it could log out of.
func (u *UI) loggedIn(c echo.Context) bool {
	if !u.tokensConfigured() {
		return false
	}
	ck, err := c.Cookie(api.SessionCookie)
	return err == nil && ck.Value != ""
}

// csrfToken returns the token for this browser's forms, giving the browser its
// random value first if it has none.
func (u *UI) csrfToken(c echo.Context) string {
	if v, ok := c.Get(csrfCookie).(string); ok {
		return u.sign(v)
	}
	var value string
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) == 32 {
		value = ck.Value
	} else {
		b := make([]byte, 16)
		rand.Read(b)
		value = hex.EncodeToString(b)
		c.SetCookie(&http.Cookie{Name: csrfCookie, Value: value, Path: "/ui/", HttpOnly: true,
			Secure: c.Scheme() == "https", SameSite: http.SameSiteStrictMode})
	}
	c.Set(csrfCookie, value)
	return u.sign(value)
}

func (u *UI) sign(value string) string {
	m := hmac.New(sha256.New, u.csrfKey)
	m.Write([]byte("hookflow-csrf\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF accepts a form from the UI's own origin whose token matches the
// browser's cookie.
func (u *UI) checkCSRF(c echo.Context) error {
	if err := u.crossOrigin.Check(c.Request()); err != nil {
		return errCrossOrigin
	}
	ck, err := c.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return errCSRF
	}
	if !hmac.Equal([]byte(u.sign(ck.Value)), []byte(c.FormValue("csrf"))) {
		return errCSRF
	}
	return nil
}
