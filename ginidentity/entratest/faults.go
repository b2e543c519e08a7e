package entratest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Endpoint names a group of the emulator's endpoints, for fault injection.
type Endpoint string

// The endpoints a fault can target.
const (
	EndpointDiscovery         Endpoint = "discovery"          // /{tenant}/v2.0/.well-known/openid-configuration
	EndpointKeys              Endpoint = "keys"               // /{tenant}/discovery/v2.0/keys
	EndpointInstanceDiscovery Endpoint = "instance-discovery" // /common/discovery/instance
	EndpointAuthorize         Endpoint = "authorize"          // /{tenant}/oauth2/v2.0/authorize
	EndpointToken             Endpoint = "token"              // /{tenant}/oauth2/v2.0/token
	EndpointLogout            Endpoint = "logout"             // /{tenant}/oauth2/v2.0/logout
	EndpointManagedIdentity   Endpoint = "managed-identity"   // the App Service managed identity endpoint
	EndpointGraph             Endpoint = "graph"              // /v1.0/...
)

// fault is one injected misbehaviour of an endpoint.
type fault struct {
	status int           // answer with this status (0: do not fail)
	delay  time.Duration // wait this long before answering
	until  time.Time     // zero: until cleared
}

type faults struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[Endpoint]fault
}

func newFaults(now func() time.Time) *faults { return &faults{now: now, m: map[Endpoint]fault{}} }

func (f *faults) get(ep Endpoint) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.m[ep]
	if !ok {
		return fault{}, false
	}
	if !ft.until.IsZero() && !f.now().Before(ft.until) {
		delete(f.m, ep)
		return fault{}, false
	}
	return ft, true
}

func (f *faults) set(ep Endpoint, ft fault) {
	f.mu.Lock()
	f.m[ep] = ft
	f.mu.Unlock()
}

// FailEndpoint makes the endpoint answer with the HTTP status for the duration (0: until ClearFaults).
// A status of 0 or less makes the emulator drop the connection without answering.
func (e *Emulator) FailEndpoint(ep Endpoint, status int, d time.Duration) {
	ft := fault{status: status}
	if status <= 0 {
		ft.status = -1
	}
	if d > 0 {
		ft.until = e.now().Add(d)
	}
	e.faults.set(ep, ft)
}

// SlowEndpoint makes the endpoint wait delay before answering, for the duration (0: until ClearFaults). The
// wait ends early when the client goes away.
func (e *Emulator) SlowEndpoint(ep Endpoint, delay time.Duration, d time.Duration) {
	ft := fault{delay: delay}
	if d > 0 {
		ft.until = e.now().Add(d)
	}
	e.faults.set(ep, ft)
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.faults.mu.Lock()
	e.faults.m = map[Endpoint]fault{}
	e.faults.mu.Unlock()
}

// withFaults wraps an endpoint's handler with the faults injected for it.
func (e *Emulator) withFaults(ep Endpoint, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ft, ok := e.faults.get(ep); ok {
			if ft.delay > 0 {
				t := time.NewTimer(ft.delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			switch {
			case ft.status < 0:
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						_ = conn.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			case ft.status > 0:
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(ft.status)
				_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred. Please try again."}`))
				return
			}
		}
		e.logf("%s %s", r.Method, redactQuery(r.URL.Path))
		h(w, r)
	}
}

// redactQuery keeps log lines free of codes and tokens: only the path is logged.
func redactQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// RevokeRefreshTokens revokes every refresh token of the user (a user principal name or object id) and ends
// the user's browser sessions, as revoking a user's sign-in sessions does in Entra: redeeming one of those
// refresh tokens then fails with AADSTS50173, and the next sign-in asks for the password again.
func (e *Emulator) RevokeRefreshTokens(user string) error {
	u := e.dir.user(user)
	if u == nil {
		return fmt.Errorf("entratest: RevokeRefreshTokens: no user %q in the directory", user)
	}
	e.state.revokeRefresh(u.ObjectID)
	e.state.endUserSessions(u.ObjectID)
	return nil
}

// RequireClaimsChallenge makes Microsoft Graph answer the user's (a user principal name or object id)
// requests with a claims challenge, as continuous access evaluation does after a critical event: a 401 with
// error="insufficient_claims" and the claims, base64-encoded. It returns the claims JSON, demanding a token
// issued from now on ({"access_token":{"nbf":{"essential":true,"value":"<unix time>"}}}). A token request
// whose claims parameter carries them (as MSAL sends them, merged with the client's capabilities) satisfies
// the challenge, and Graph accepts the user's tokens again.
func (e *Emulator) RequireClaimsChallenge(user string) (string, error) {
	u := e.dir.user(user)
	if u == nil {
		return "", fmt.Errorf("entratest: RequireClaimsChallenge: no user %q in the directory", user)
	}
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, e.now().Unix())
	e.state.requireClaims(u.ObjectID, claims)
	return claims, nil
}
