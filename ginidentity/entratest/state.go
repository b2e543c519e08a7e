package entratest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// state is what the emulator remembers between requests: authorization codes, refresh tokens, the scopes
// users have consented to, and browser sign-in sessions. All of it is in memory.
type state struct {
	mu       sync.Mutex
	codes    map[string]*authCode
	refresh  map[string]*refreshGrant
	consents map[consentKey]map[string]bool // scope (lower case) -> granted
	sessions map[string]*browserSession
	// claimsChallenges are the users (object ids) for whom Graph answers with a claims challenge, with the
	// claims to demand, until a token carrying them arrives.
	claimsChallenges map[string]string
	// clientCerts are certificates registered at run time with AddClientCertificate, by client id (lower
	// case), in addition to those of the directory.
	clientCerts map[string][]*x509.Certificate
	// flows are sign-ins in progress on the authorize endpoint, by flow id (authorize.go).
	flows map[string]*authorizeFlow
}

func newState() *state {
	return &state{
		codes:            map[string]*authCode{},
		refresh:          map[string]*refreshGrant{},
		consents:         map[consentKey]map[string]bool{},
		sessions:         map[string]*browserSession{},
		claimsChallenges: map[string]string{},
		clientCerts:      map[string][]*x509.Certificate{},
		flows:            map[string]*authorizeFlow{},
	}
}

// authCode is an authorization code issued by the authorize endpoint, redeemable once within its lifetime.
type authCode struct {
	clientID      string
	redirectURI   string
	userOID       string
	tenantID      string
	scopes        []string // as requested, for the token request to be compared with
	nonce         string
	codeChallenge string
	method        string // S256 or plain; "" when no PKCE
	claims        string // the claims parameter, echoed into tokens as xms_cc etc. when relevant
	sessionID     string
	authTime      time.Time
	expires       time.Time
	redeemed      bool
}

// refreshGrant is what a refresh token stands for. Entra's refresh tokens are opaque; so are ours.
type refreshGrant struct {
	clientID  string
	userOID   string
	tenantID  string
	sessionID string
	authTime  time.Time
	expires   time.Time
	revoked   bool
}

// browserSession is a signed-in browser (the emulator's own cookie), for SSO, prompt=none and logout.
type browserSession struct {
	id       string
	userOID  string
	tenantID string
	authTime time.Time
}

type consentKey struct {
	userOID  string
	clientID string
	resource string // resource app client id, lower case
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("entratest: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *state) putCode(c *authCode) string {
	code := "1.A" + randomToken(48)
	s.mu.Lock()
	s.codes[code] = c
	s.mu.Unlock()
	return code
}

// takeCode looks a code up and marks it redeemed. It returns the code with redeemed=true already set when
// it had been redeemed before, so the caller can answer AADSTS54005.
func (s *state) takeCode(code string) (c authCode, found, replayed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.codes[code]
	if !ok {
		return authCode{}, false, false
	}
	if ac.redeemed {
		return *ac, true, true
	}
	ac.redeemed = true
	return *ac, true, false
}

func (s *state) putRefresh(g *refreshGrant) string {
	rt := "1.A" + randomToken(96)
	s.mu.Lock()
	s.refresh[rt] = g
	s.mu.Unlock()
	return rt
}

func (s *state) getRefresh(rt string) (refreshGrant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.refresh[rt]
	if !ok {
		return refreshGrant{}, false
	}
	return *g, true
}

// revokeRefresh revokes every refresh token of the user.
func (s *state) revokeRefresh(userOID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.refresh {
		if strings.EqualFold(g.userOID, userOID) && !g.revoked {
			g.revoked = true
			n++
		}
	}
	return n
}

// userConsented returns the scopes the user consented to for the client on the resource.
func (s *state) userConsented(userOID, clientID, resourceID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for scope := range s.consents[consentKey{strings.ToLower(userOID), strings.ToLower(clientID), strings.ToLower(resourceID)}] {
		out = append(out, scope)
	}
	slices.Sort(out)
	return out
}

// grantConsent records the user's consent to scopes for the client on the resource.
func (s *state) grantConsent(userOID, clientID, resourceID string, scopes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{strings.ToLower(userOID), strings.ToLower(clientID), strings.ToLower(resourceID)}
	m := s.consents[k]
	if m == nil {
		m = map[string]bool{}
		s.consents[k] = m
	}
	for _, sc := range scopes {
		m[sc] = true
	}
}

func (s *state) putSession(sess *browserSession) {
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
}

func (s *state) session(id string) (*browserSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

func (s *state) endSession(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// endUserSessions ends every browser session of the user, as revoking a user's sessions does in Entra.
func (s *state) endUserSessions(userOID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.sessions {
		if strings.EqualFold(sess.userOID, userOID) {
			delete(s.sessions, id)
		}
	}
}

// requireClaims makes Graph demand the claims (a JSON object) from the user's tokens until a token request
// carrying them arrives.
func (s *state) requireClaims(userOID, claims string) {
	s.mu.Lock()
	s.claimsChallenges[strings.ToLower(userOID)] = claims
	s.mu.Unlock()
}

// claimsChallenge returns the claims Graph demands from the user's tokens, if any.
func (s *state) claimsChallenge(userOID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.claimsChallenges[strings.ToLower(userOID)]
	return c, ok
}

// satisfyClaims clears the user's pending claims challenge when the claims of a token request (a JSON
// object, as MSAL sends them merged with the client capabilities) carry every access_token claim the
// challenge demands, with the same value. It reports whether a challenge was cleared.
func (s *state) satisfyClaims(userOID, requested string) bool {
	if requested == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(userOID)
	pending, ok := s.claimsChallenges[key]
	if !ok || !claimsCover(requested, pending) {
		return false
	}
	delete(s.claimsChallenges, key)
	return true
}

// claimsCover reports whether the requested claims carry every access_token claim of the demanded ones with
// the same value.
func claimsCover(requested, demanded string) bool {
	var req, dem map[string]map[string]map[string]any
	if json.Unmarshal([]byte(requested), &req) != nil || json.Unmarshal([]byte(demanded), &dem) != nil {
		return false
	}
	for name, want := range dem["access_token"] {
		got, ok := req["access_token"][name]
		if !ok || fmt.Sprint(got["value"]) != fmt.Sprint(want["value"]) {
			return false
		}
	}
	return true
}

func (s *state) addClientCert(clientID string, cert *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(clientID)
	s.clientCerts[k] = append(s.clientCerts[k], cert)
}

// registeredCerts returns the certificates registered at run time for the client.
func (s *state) registeredCerts(clientID string) []*x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.clientCerts[strings.ToLower(clientID)])
}
