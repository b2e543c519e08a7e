package entratest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Token lifetimes, as Entra's defaults.
const (
	accessTokenLifetime  = 75 * time.Minute // Entra picks 60 to 90 minutes
	idTokenLifetime      = time.Hour
	refreshTokenLifetime = 90 * 24 * time.Hour
	codeLifetime         = 10 * time.Minute
)

// grant describes an access token to issue.
type grant struct {
	client   *App
	resource *App
	// audience is how the resource was named in the request (a client id or an identifier URI); v1.0
	// tokens carry it as aud, v2.0 tokens always carry the resource's client id.
	audience string
	tenantID string
	user     *User    // nil for an app-only token
	scopes   []string // delegated scopes (scp)
	roles    []string // app roles (roles)
	// clientAuth is how the client authenticated: "0" public client, "1" secret, "2" certificate.
	clientAuth string
	// extra claims, e.g. xms_cc for a client that declared capabilities.
	extra map[string]any
}

// accessToken signs an access token shaped as Entra issues it for the grant: v2.0 or v1.0 as the resource
// asks, delegated (scp) or app-only (roles, idtyp app).
func (e *Emulator) accessToken(g grant) (string, time.Duration, error) {
	now := e.now()
	c := map[string]any{
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(accessTokenLifetime).Unix(),
		"tid": g.tenantID,
		"aio": randomToken(24),
		"rh":  "0." + randomToken(32) + ".",
		"uti": randomToken(16),
	}
	v1 := g.resource.tokenVersion() == 1
	if v1 {
		c["ver"] = "1.0"
		c["iss"] = issuerV1(g.tenantID)
		c["aud"] = g.audience
		if c["aud"] == "" {
			c["aud"] = firstOr(g.resource.IdentifierURIs, g.resource.ClientID)
		}
		c["appid"] = g.client.ClientID
		c["appidacr"] = g.clientAuth
	} else {
		c["ver"] = "2.0"
		c["iss"] = e.issuerV2(g.tenantID)
		c["aud"] = g.resource.ClientID
		c["azp"] = g.client.ClientID
		c["azpacr"] = g.clientAuth
	}
	if g.user == nil {
		c["idtyp"] = "app"
		c["oid"] = g.client.ObjectID
		c["sub"] = g.client.ObjectID
		if len(g.roles) > 0 {
			c["roles"] = g.roles
		}
	} else {
		u := g.user
		c["oid"] = u.ObjectID
		c["sub"] = pairwiseSub(u.ObjectID, g.client.ClientID)
		c["name"] = u.DisplayName
		c["scp"] = strings.Join(g.scopes, " ")
		if v1 {
			c["idtyp"] = "user"
			c["upn"] = u.UserPrincipalName
			c["unique_name"] = u.UserPrincipalName
			c["given_name"] = u.GivenName
			c["family_name"] = u.Surname
			c["amr"] = []string{"pwd"}
			c["acr"] = "1"
			c["ipaddr"] = "127.0.0.1"
		} else {
			c["preferred_username"] = u.UserPrincipalName
		}
		if len(g.roles) > 0 {
			c["roles"] = g.roles
		}
	}
	for k, v := range g.extra {
		c[k] = v
	}
	tok, err := e.sign(c)
	return tok, accessTokenLifetime, err
}

// idToken signs an ID token for the user signing in to the client.
func (e *Emulator) idToken(client *App, u *User, tenantID, nonce, sessionID string, authTime time.Time) (string, error) {
	now := e.now()
	c := map[string]any{
		"aud":                client.ClientID,
		"iss":                e.issuerV2(tenantID),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(idTokenLifetime).Unix(),
		"name":               u.DisplayName,
		"oid":                u.ObjectID,
		"preferred_username": u.UserPrincipalName,
		"rh":                 "0." + randomToken(32) + ".",
		"sub":                pairwiseSub(u.ObjectID, client.ClientID),
		"tid":                tenantID,
		"uti":                randomToken(16),
		"ver":                "2.0",
	}
	if u.Mail != "" {
		c["email"] = u.Mail
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	if sessionID != "" {
		c["sid"] = sessionID
	}
	if !authTime.IsZero() {
		c["auth_time"] = authTime.Unix()
	}
	return e.sign(c)
}

// sign serializes the claims and signs them with the current signing key.
func (e *Emulator) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("entratest: encode claims: %w", err)
	}
	return e.keys.active().sign(payload)
}

// IssueToken signs arbitrary claims with the emulator's current signing key, with Entra's header (typ JWT,
// alg RS256, kid, x5t). Tests use it for tokens the endpoints would never issue: expired ones, ones for
// another audience, ones with odd claims. UserTokenClaims gives a realistic starting point.
func (e *Emulator) IssueToken(claims map[string]any) (string, error) { return e.sign(claims) }

// UserTokenClaims returns the claims of a v2.0 access token the emulator would issue for the user (a user
// principal name) signed in to clientID and calling the resource (a client id or identifier URI) with the
// scopes. Modify the map and sign it with IssueToken.
func (e *Emulator) UserTokenClaims(userName, clientID, resource string, scopes ...string) (map[string]any, error) {
	u := e.dir.user(userName)
	if u == nil {
		return nil, fmt.Errorf("entratest: no user %q in the directory", userName)
	}
	return e.tokenClaims(u, clientID, resource, scopes, nil)
}

// AppTokenClaims returns the claims of an app-only access token for clientID calling the resource with the
// roles. Modify the map and sign it with IssueToken.
func (e *Emulator) AppTokenClaims(clientID, resource string, roles ...string) (map[string]any, error) {
	return e.tokenClaims(nil, clientID, resource, nil, roles)
}

func (e *Emulator) tokenClaims(u *User, clientID, resource string, scopes, roles []string) (map[string]any, error) {
	client := e.dir.app(clientID)
	if client == nil {
		return nil, fmt.Errorf("entratest: no app %q in the directory", clientID)
	}
	res := e.dir.resource(resource)
	if res == nil {
		return nil, fmt.Errorf("entratest: no resource %q in the directory", resource)
	}
	tenantID := client.TenantID
	if u != nil {
		tenantID = u.TenantID
	}
	tok, _, err := e.accessToken(grant{client: client, resource: res, audience: resource, tenantID: tenantID,
		user: u, scopes: scopes, roles: roles, clientAuth: "1"})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// consentedScopes are the delegated scopes the user has for the client on the resource: those an admin
// consented for everyone plus those the user consented to, as the resource declares them, sorted.
func (e *Emulator) consentedScopes(client *App, u *User, resource *App) []string {
	var out []string
	add := func(s string) {
		if resource.hasScope(s) {
			s = resource.canonicalScope(s)
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	for _, s := range client.consentedFor(resource) {
		add(s)
	}
	for _, s := range e.state.userConsented(u.ObjectID, client.ClientID, resource.ClientID) {
		add(s)
	}
	slices.Sort(out)
	return out
}

// pairwiseSub is the user's sub for one app: stable, and different for every app, as Entra's.
func pairwiseSub(oid, clientID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(oid) + "|" + strings.ToLower(clientID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

// clientInfo is the client_info of a token response: base64url without padding of {"uid","utid"}.
func clientInfo(u *User) string {
	b, _ := json.Marshal(map[string]string{"uid": u.ObjectID, "utid": u.TenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}
