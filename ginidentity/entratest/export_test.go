package entratest

import "time"

// TestCode describes an authorization code as the authorize endpoint issues it after a sign-in, so that the
// token endpoint's tests do not depend on driving the sign-in form.
type TestCode struct {
	ClientID, RedirectURI, User string
	Scopes                      []string
	Nonce, Challenge, Method    string
	Claims                      string
	Lifetime                    time.Duration // default codeLifetime
}

// NewTestCode stores the code and returns it.
func (e *Emulator) NewTestCode(c TestCode) string {
	u := e.dir.user(c.User)
	if c.Lifetime == 0 {
		c.Lifetime = codeLifetime
	}
	now := e.now()
	return e.state.putCode(&authCode{clientID: c.ClientID, redirectURI: c.RedirectURI, userOID: u.ObjectID, tenantID: u.TenantID,
		scopes: c.Scopes, nonce: c.Nonce, codeChallenge: c.Challenge, method: c.Method, claims: c.Claims,
		sessionID: "test-session", authTime: now, expires: now.Add(c.Lifetime)})
}

// GrantTestConsent records the user's consent, as the consent page does.
func (e *Emulator) GrantTestConsent(user, clientID, resourceClientID string, scopes ...string) {
	e.state.grantConsent(e.dir.user(user).ObjectID, clientID, resourceClientID, scopes)
}

// PendingClaims returns the claims challenge Graph would answer the user with.
func (e *Emulator) PendingClaims(user string) (string, bool) {
	return e.state.claimsChallenge(e.dir.user(user).ObjectID)
}
