package entratest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Grant types the token endpoint accepts.
const (
	grantAuthCode          = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// maxTokenRequestBytes bounds the body of a token request.
const maxTokenRequestBytes = 1 << 20

// tokenResponse is a successful answer of the token endpoint, with Entra's fields in Entra's order.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// tokenRequest is a token request whose tenant and client have been checked and whose client has
// authenticated.
type tokenRequest struct {
	form   url.Values
	seg    string  // the {tenant} path segment as sent
	tenant *Tenant // nil for common and organizations
	client *App
	acr    string // how the client authenticated: "0" public, "1" secret, "2" certificate
}

// tenantName names the tenant of the request in error messages, as Entra does.
func (tr *tokenRequest) tenantName() string {
	if tr.tenant != nil {
		return tr.tenant.ID
	}
	return tr.seg
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	resp, oe := e.token(r)
	if oe != nil {
		e.writeError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (e *Emulator) token(r *http.Request) (*tokenResponse, *oauthError) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		return nil, newError("invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
	}
	form := r.PostForm
	seg := r.PathValue("tenant")
	tenant, kind, ok := e.resolveTenant(seg)
	if !ok || kind == tenantConsumers {
		return nil, newError("invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", seg)
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		return nil, missingParameter("grant_type")
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		if user, _, ok := r.BasicAuth(); ok {
			clientID, _ = url.QueryUnescape(user)
		}
	}
	if clientID == "" {
		return nil, missingParameter("client_id")
	}
	tr := &tokenRequest{form: form, seg: seg, tenant: tenant}
	client := e.dir.app(clientID)
	if client == nil || (tenant != nil && !client.availableIn(tenant.ID)) {
		return nil, newError("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", clientID, tr.tenantName())
	}
	if tenant == nil {
		if grantType == grantClientCredentials {
			return nil, newError("invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials.")
		}
		if !client.MultiTenant {
			return nil, newError("invalid_request", 50194, "Application '%s'(%s) is not configured as a multi-tenant application. Usage of the /%s endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", client.ClientID, client.DisplayName, strings.ToLower(seg))
		}
	}
	acr, oe := e.authenticateClient(r, form, client, seg, tenant, grantType)
	if oe != nil {
		return nil, oe
	}
	tr.client, tr.acr = client, acr
	switch grantType {
	case grantAuthCode:
		return e.redeemCode(tr)
	case grantRefreshToken:
		return e.redeemRefreshToken(tr)
	case grantClientCredentials:
		return e.clientCredentials(tr)
	case grantJWTBearer:
		if use := form.Get("requested_token_use"); use != "on_behalf_of" {
			if use == "" {
				return nil, missingParameter("requested_token_use")
			}
			return nil, newError("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s' with requested_token_use '%s'.", grantType, use)
		}
		return e.onBehalfOf(tr)
	default:
		return nil, newError("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", grantType)
	}
}

func missingParameter(name string) *oauthError {
	return newError("invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

// redeemCode serves the authorization_code grant: a single-use code, redeemed within its lifetime by the
// client it was issued to, with the same redirect URI and the PKCE verifier of its challenge.
func (e *Emulator) redeemCode(tr *tokenRequest) (*tokenResponse, *oauthError) {
	code := tr.form.Get("code")
	if code == "" {
		return nil, missingParameter("code")
	}
	c, found, replayed := e.state.takeCode(code)
	switch {
	case !found:
		return nil, newError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case replayed:
		return nil, newError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case !e.now().Before(c.expires):
		return nil, newError("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case !strings.EqualFold(c.clientID, tr.client.ClientID):
		return nil, newError("invalid_grant", 70000, "Provided grant is invalid or malformed: the authorization code was issued to another application.")
	case tr.tenant != nil && !strings.EqualFold(c.tenantID, tr.tenant.ID):
		return nil, newError("invalid_grant", 700005, "Provided Authorization Code is intended to use against other tenant, thus rejected.")
	}
	if got := tr.form.Get("redirect_uri"); got != c.redirectURI {
		return nil, newError("invalid_grant", 50011, "The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", got, c.redirectURI)
	}
	if !pkceMatches(c.codeChallenge, c.method, tr.form.Get("code_verifier")) {
		return nil, newError("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	u := e.dir.user(c.userOID)
	if u == nil {
		return nil, unknownUser(c.userOID, c.tenantID)
	}
	raw := tr.form.Get("scope")
	if strings.TrimSpace(raw) == "" {
		raw = strings.Join(c.scopes, " ")
	}
	claims := tr.form.Get("claims")
	if claims == "" {
		claims = c.claims
	}
	return e.userToken(tr, u, c.tenantID, raw, userSession{nonce: c.nonce, sessionID: c.sessionID, authTime: c.authTime, claims: claims})
}

// pkceMatches checks a code verifier against the challenge of the authorization request (RFC 7636). A code
// without a challenge takes no verifier.
func pkceMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	if verifier == "" {
		return false
	}
	var derived string
	switch method {
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		derived = base64.RawURLEncoding.EncodeToString(sum[:])
	case "plain", "":
		derived = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(derived), []byte(challenge)) == 1
}

// redeemRefreshToken serves the refresh_token grant. A refresh token is good for any resource the user
// consented to for the client, as Entra's are, and the answer carries a new one.
func (e *Emulator) redeemRefreshToken(tr *tokenRequest) (*tokenResponse, *oauthError) {
	rt := tr.form.Get("refresh_token")
	if rt == "" {
		return nil, missingParameter("refresh_token")
	}
	g, ok := e.state.getRefresh(rt)
	switch {
	case !ok:
		return nil, newError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
	case !strings.EqualFold(g.clientID, tr.client.ClientID):
		return nil, newError("invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token was issued to another application.")
	case g.revoked:
		return nil, newError("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
	case !e.now().Before(g.expires):
		return nil, newError("invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.", g.expires.Add(-refreshTokenLifetime).UTC().Format(time.RFC3339), refreshTokenLifetime)
	case tr.tenant != nil && !strings.EqualFold(g.tenantID, tr.tenant.ID):
		return nil, newError("invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token was issued in another tenant.")
	}
	u := e.dir.user(g.userOID)
	if u == nil {
		return nil, unknownUser(g.userOID, g.tenantID)
	}
	return e.userToken(tr, u, g.tenantID, tr.form.Get("scope"), userSession{sessionID: g.sessionID, authTime: g.authTime, claims: tr.form.Get("claims"), alwaysRefresh: true})
}

func unknownUser(user, tenantID string) *oauthError {
	return newError("invalid_grant", 50034, "The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", user, tenantID)
}

// userSession is what a user token response carries over from the sign-in.
type userSession struct {
	nonce     string
	sessionID string
	authTime  time.Time
	claims    string
	// alwaysRefresh issues a new refresh token even when offline_access was not asked (refresh grants).
	alwaysRefresh bool
}

// userToken answers a delegated grant: an access token with every scope the user consented to for the
// client on the requested resource, an ID token when openid was asked, a refresh token when offline_access
// was, and client_info when the client asked for it.
func (e *Emulator) userToken(tr *tokenRequest, u *User, tenantID, rawScope string, s userSession) (*tokenResponse, *oauthError) {
	sr, oe := e.parseScopes(rawScope, tenantID)
	if oe != nil {
		return nil, oe
	}
	if sr.resource == nil {
		// Only OpenID Connect scopes: Entra answers with a Microsoft Graph token.
		if sr.resource = e.dir.resource(GraphAppID); sr.resource == nil {
			return nil, missingParameter("scope")
		}
	}
	consented := e.consentedScopes(tr.client, u, sr.resource)
	if missing := sr.missingConsent(consented); missing != "" || (sr.dotDefault && len(consented) == 0) {
		oe := newError("invalid_grant", 65001, "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", tr.client.ClientID, tr.client.DisplayName)
		oe.SubError = "consent_required"
		return nil, oe
	}
	scp := consented
	if len(scp) == 0 {
		scp = slices.DeleteFunc(slices.Clone(sr.oidc), func(s string) bool { return s == "offline_access" })
	}
	if s.claims != "" {
		e.state.satisfyClaims(u.ObjectID, s.claims)
	}
	at, life, err := e.accessToken(grant{client: tr.client, resource: sr.resource, audience: sr.audience(), tenantID: tenantID,
		user: u, scopes: scp, clientAuth: tr.acr, extra: capabilityClaims(s.claims)})
	if err != nil {
		return nil, internalError(err)
	}
	resp := &tokenResponse{TokenType: "Bearer", Scope: sr.grantedScope(consented), ExpiresIn: int64(life / time.Second),
		ExtExpiresIn: int64(life / time.Second), AccessToken: at}
	if sr.has("openid") {
		if resp.IDToken, err = e.idToken(tr.client, u, tenantID, s.nonce, s.sessionID, s.authTime); err != nil {
			return nil, internalError(err)
		}
	}
	if sr.has("offline_access") || s.alwaysRefresh {
		resp.RefreshToken = e.state.putRefresh(&refreshGrant{clientID: tr.client.ClientID, userOID: u.ObjectID, tenantID: tenantID,
			sessionID: s.sessionID, authTime: s.authTime, expires: e.now().Add(refreshTokenLifetime)})
	}
	if tr.form.Get("client_info") == "1" {
		resp.ClientInfo = clientInfo(u)
	}
	return resp, nil
}

// capabilityClaims returns the xms_cc claim for a client that declared capabilities (such as cp1, for
// continuous access evaluation) in the claims parameter, as MSAL sends them.
func capabilityClaims(claims string) map[string]any {
	if claims == "" {
		return nil
	}
	var c struct {
		AccessToken struct {
			XMSCC struct {
				Values []string `json:"values"`
			} `json:"xms_cc"`
		} `json:"access_token"`
	}
	if json.Unmarshal([]byte(claims), &c) != nil || len(c.AccessToken.XMSCC.Values) == 0 {
		return nil
	}
	return map[string]any{"xms_cc": c.AccessToken.XMSCC.Values}
}

func internalError(err error) *oauthError {
	return &oauthError{Status: http.StatusInternalServerError, Code: "server_error", AADSTS: 50000, Message: "There was an error issuing a token: " + err.Error()}
}

// clientCredentials serves the client_credentials grant: an app-only token for {resource}/.default carrying
// the app roles granted to the client on the resource.
func (e *Emulator) clientCredentials(tr *tokenRequest) (*tokenResponse, *oauthError) {
	raw := tr.form.Get("scope")
	var resourceScopes []string
	for _, s := range strings.Fields(raw) {
		if !slices.Contains(oidcScopes, strings.ToLower(s)) {
			resourceScopes = append(resourceScopes, s)
		}
	}
	switch len(resourceScopes) {
	case 0:
		return nil, missingParameter("scope")
	case 1:
	default:
		return nil, newError("invalid_scope", 70011, "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", raw)
	}
	sr, oe := e.parseScopes(resourceScopes[0], tr.tenant.ID)
	if oe != nil {
		return nil, oe
	}
	if !sr.dotDefault {
		return nil, newError("invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", resourceScopes[0])
	}
	var roles []string
	for _, r := range tr.client.rolesFor(sr.resource) {
		if sr.resource.hasAppRole(r) {
			roles = append(roles, r)
		}
	}
	at, life, err := e.appToken(grant{client: tr.client, resource: sr.resource, audience: sr.audience(), tenantID: tr.tenant.ID,
		roles: roles, clientAuth: tr.acr})
	if err != nil {
		return nil, internalError(err)
	}
	// Entra's client-credentials answers carry no scope.
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: int64(life / time.Second), ExtExpiresIn: int64(life / time.Second), AccessToken: at}, nil
}

// appTokenCache holds, for each distinct app-only grant, the token signed last and the second it was
// signed in.
//
// Signing is the cost of a token (RSA-2048: about 1 ms of a core), and iat, nbf and exp have a resolution of
// one second, so a second identical client-credentials request (same client, tenant, resource, roles and
// credential type, same signing key) within the same second gets the same token back: it is byte for byte
// the token a fresh signature would give except that its random uti and aio repeat: only a resource that
// remembers uti values could tell. A test that needs distinct tokens asks in another second (WithClock).
// This is what lets the emulator answer thousands of client-credentials requests a second on two cores
// (see bench_test.go), where fresh signatures alone would cap it near 2,000 with nothing left for TLS.
type appTokenCache struct {
	mu sync.Mutex
	m  map[string]cachedAppToken
}

type cachedAppToken struct {
	second int64
	token  string
}

// appToken signs an app-only access token, or reuses the one signed in the same second for the same grant.
func (e *Emulator) appToken(g grant) (string, time.Duration, error) {
	now := e.now().Unix()
	key := strings.Join([]string{e.keys.active().kid, g.client.ClientID, g.tenantID, g.resource.ClientID, g.audience, g.clientAuth,
		strings.Join(g.roles, " ")}, "\x00")
	c := &e.appTokens
	c.mu.Lock()
	hit, ok := c.m[key]
	c.mu.Unlock()
	if ok && hit.second == now {
		return hit.token, accessTokenLifetime, nil
	}
	tok, life, err := e.accessToken(g)
	if err != nil || e.now().Unix() != now {
		return tok, life, err // do not cache a token whose iat may be the next second
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 1024 {
		c.m = map[string]cachedAppToken{}
	}
	c.m[key] = cachedAppToken{second: now, token: tok}
	c.mu.Unlock()
	return tok, life, nil
}
