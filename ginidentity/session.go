package ginidentity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/go-json-experiment/json"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// Defaults of the web app's session.
const (
	DefaultSessionName     = "ginidentity"
	DefaultSessionLifetime = 8 * time.Hour
)

// sessionValueKey is the key of the signed-in user in the session's values.
const sessionValueKey = "ginidentity.user"

// maxSessionClaimsBytes bounds the JSON of the claims a session keeps, so that the default cookie store's
// cookie stays well under the 4 KB browsers allow (about 2.5 KB once encrypted and encoded).
const maxSessionClaimsBytes = 1200

// maxSessionClaimBytes bounds one string claim kept in the session.
const maxSessionClaimBytes = 256

// Claims a session keeps, in the order they are dropped when the payload is over budget: the required ones
// last and never dropped. Tokens are never kept: they live in the token cache.
var (
	sessionRequiredClaims = []string{"oid", "tid", "sub", "name", "preferred_username", "uid", "utid"}
	sessionOptionalClaims = []string{"iss", "ver", "sid", "idp", "email", "login_hint", "roles"}
)

// sessionUser is what a session holds about the signed-in user: who the user is, never a token.
type sessionUser struct {
	// ID is random and new at every sign-in: it names this session in logs and tests.
	ID         string         `json:"id"`
	Claims     map[string]any `json:"c"`
	SignedInAt int64          `json:"at"`
	Expires    int64          `json:"exp"`
}

// sessionManager keeps the signed-in user in a gin-contrib/sessions store under its own session name.
type sessionManager struct {
	store    sessions.Store
	name     string
	lifetime time.Duration
	now      func() time.Time
}

// newCookieSessionStore is the default store: the whole session in a cookie, authenticated with HMAC-SHA256
// and encrypted with AES-256 (gorilla/securecookie) under keys derived from the session keys.
func newCookieSessionStore(secrets [][]byte, lifetime time.Duration) sessions.Store {
	pairs := make([][]byte, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, deriveKey(s, "session cookie hmac-sha256", 32), deriveKey(s, "session cookie aes-256", 32))
	}
	st := cookie.NewStore(pairs...)
	// The codecs refuse cookies older than the session lifetime, on top of the expiry the session holds.
	if m, ok := st.(interface{ MaxAge(int) }); ok {
		m.MaxAge(int(lifetime / time.Second))
	}
	return st
}

// options are the cookie attributes of every session cookie: HttpOnly, SameSite=Lax, Secure when the
// browser reached the app over https; maxAge < 0 deletes the cookie.
func (m *sessionManager) options(secure bool, maxAge int) *gsessions.Options {
	return &gsessions.Options{Path: "/", MaxAge: maxAge, Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// load returns the request's session and its signed-in user, nil when there is none, it has expired or
// cannot be read (a cookie sealed with a retired key, a store that lost it). The error, wrapping
// ErrSessionStoreUnavailable, says that the store itself failed (a Redis that is down): whether a user is
// signed in is then unknown.
func (m *sessionManager) load(r *http.Request) (*gsessions.Session, *sessionUser, error) {
	s, err := m.store.New(r, m.name)
	if err != nil && !isCookieError(err) {
		return s, nil, storeError("reading the session", err)
	}
	if err != nil || s == nil {
		return s, nil, nil
	}
	raw, ok := s.Values[sessionValueKey].(string)
	if !ok {
		return s, nil, nil
	}
	var u sessionUser
	if json.Unmarshal([]byte(raw), &u) != nil || u.ID == "" || u.Claims == nil {
		return s, nil, nil
	}
	if !m.now().Before(time.Unix(u.Expires, 0)) {
		return s, nil, nil
	}
	return s, &u, nil
}

// isCookieError reports whether a session store's error is about the request's cookie (forged, expired,
// sealed with a retired key: the user is simply not signed in) rather than about the store.
func isCookieError(err error) bool {
	var ce securecookie.Error
	return errors.As(err, &ce)
}

// storeError wraps an error of the session store, other than about a cookie, in ErrSessionStoreUnavailable.
func storeError(what string, err error) error {
	if isCookieError(err) {
		return fmt.Errorf("ginidentity: session: %s: %w", what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrSessionStoreUnavailable, what, err)
}

// start ends the request's session, if any, and starts a new one for the user, so that a session id (or
// cookie) planted before sign-in never becomes a signed-in one.
func (m *sessionManager) start(w http.ResponseWriter, r *http.Request, claims map[string]any, secure bool) (*sessionUser, error) {
	now := m.now()
	u := &sessionUser{ID: randomString(16), Claims: claims, SignedInAt: now.Unix(), Expires: now.Add(m.lifetime).Unix()}
	payload, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: session: %w", err)
	}
	old, err := m.store.New(r, m.name)
	switch {
	case err != nil && !isCookieError(err):
		return nil, storeError("reading the previous session", err)
	case err == nil && old != nil && !old.IsNew:
		// Delete the old session from a server-side store; its cookie is replaced by the new one below.
		old.Options = m.options(secure, -1)
		if err := m.store.Save(r, headerSink{}, old); err != nil {
			return nil, storeError("ending the previous session", err)
		}
	}
	s := gsessions.NewSession(m.store, m.name)
	s.IsNew = true
	s.Options = m.options(secure, int(m.lifetime/time.Second))
	s.Values[sessionValueKey] = string(payload)
	if err := m.store.Save(r, w, s); err != nil {
		return nil, storeError("saving the new session", err)
	}
	return u, nil
}

// end deletes the request's session: its cookie, and its record in a server-side store.
func (m *sessionManager) end(w http.ResponseWriter, r *http.Request, secure bool) error {
	s, _ := m.store.New(r, m.name)
	if s == nil {
		s = gsessions.NewSession(m.store, m.name)
	}
	clear(s.Values)
	s.Options = m.options(secure, -1)
	if err := m.store.Save(r, w, s); err != nil {
		return storeError("ending the session", err)
	}
	return nil
}

// sessionClaims picks from an ID token's claims what the session keeps: the identity claims, each string
// at most 256 bytes, the optional ones dropped (roles first) until the whole fits the budget.
func sessionClaims(idClaims map[string]any) (map[string]any, error) {
	kept := map[string]any{}
	for _, name := range slices.Concat(sessionRequiredClaims, sessionOptionalClaims) {
		v, ok := idClaims[name]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			if len(v) > maxSessionClaimBytes {
				if slices.Contains(sessionRequiredClaims, name) {
					return nil, &idTokenProblem{fmt.Sprintf("the %s claim is longer than %d bytes", name, maxSessionClaimBytes)}
				}
				continue
			}
			kept[name] = v
		case []any:
			var list []string
			for _, e := range v {
				if s, ok := e.(string); ok && len(s) <= maxSessionClaimBytes {
					list = append(list, s)
				}
			}
			if len(list) > 0 {
				kept[name] = list
			}
		}
	}
	for i := len(sessionOptionalClaims) - 1; ; i-- {
		b, err := json.Marshal(kept)
		if err != nil {
			return nil, fmt.Errorf("ginidentity: session claims: %w", err)
		}
		if len(b) <= maxSessionClaimsBytes {
			return kept, nil
		}
		if i < 0 {
			return nil, &idTokenProblem{fmt.Sprintf("its identity claims take more than %d bytes", maxSessionClaimsBytes)}
		}
		delete(kept, sessionOptionalClaims[i])
	}
}

// headerSink is a ResponseWriter that drops what it is given: the deletion cookie of a session being
// replaced, which the new session's cookie makes useless.
type headerSink struct{}

func (headerSink) Header() http.Header         { return http.Header{} }
func (headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (headerSink) WriteHeader(int)             {}

// ParseSessionKeys reads session keys from configuration: a comma-separated list of base64 (standard or
// URL alphabet, padded or not) secrets of at least 32 bytes each, the current one first, retired ones after
// it, so that sessions sealed with them still open during a rotation. Generate one with
// `openssl rand -base64 32`.
func ParseSessionKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var key []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if key, err = enc.DecodeString(part); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("ginidentity: session key %d is not base64: generate one with `openssl rand -base64 32`", i)
		}
		if len(key) < minSessionKeyBytes {
			return nil, fmt.Errorf("ginidentity: session key %d is %d bytes long: use at least %d random bytes (`openssl rand -base64 32`)", i, len(key), minSessionKeyBytes)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("ginidentity: no session key: set a base64 secret of at least 32 bytes (`openssl rand -base64 32`)")
	}
	return keys, nil
}
