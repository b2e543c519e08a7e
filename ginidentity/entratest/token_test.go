package entratest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const redirectURI = "http://localhost:5000/signin-oidc"

// clock is a settable clock for the emulator and the token validation of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// postToken posts a token request and decodes the JSON answer.
func postToken(t *testing.T, e *entratest.Emulator, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	return postTokenWith(t, e.HTTPClient(), e.Authority(tenant)+"/oauth2/v2.0/token", form, nil)
}

func postTokenWith(t *testing.T, c *http.Client, endpoint string, form url.Values, mutate func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if mutate != nil {
		mutate(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("POST %s: decode: %v", endpoint, err)
	}
	return resp.StatusCode, m
}

// mustToken posts a token request that must succeed and returns the answer.
func mustToken(t *testing.T, e *entratest.Emulator, tenant string, form url.Values) map[string]any {
	t.Helper()
	status, body := postToken(t, e, tenant, form)
	if status != http.StatusOK {
		t.Fatalf("token request: status %d: %v", status, body)
	}
	return body
}

// verifier validates tokens against the emulator's published JWKS.
type verifier struct {
	e     *entratest.Emulator
	set   jwk.Set
	clock jwt.Clock
}

func newVerifier(t *testing.T, e *entratest.Emulator, c *clock) *verifier {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), e.Authority("common")+"/discovery/v2.0/keys", jwk.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatalf("fetch JWKS: %v", err)
	}
	v := &verifier{e: e, set: set, clock: jwt.ClockFunc(time.Now)}
	if c != nil {
		v.clock = jwt.ClockFunc(c.Now)
	}
	return v
}

// verify checks the token's signature against the JWKS, its lifetime, audience and issuer, and returns its
// claims.
func (v *verifier) verify(t *testing.T, token, aud, iss string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseString(token, jwt.WithKeySet(v.set, jws.WithInferAlgorithmFromKey(true)), jwt.WithValidate(true),
		jwt.WithClock(v.clock), jwt.WithAudience(aud), jwt.WithIssuer(iss))
	if err != nil {
		t.Fatalf("token does not validate (aud %s, iss %s): %v", aud, iss, err)
	}
	claims, err := tok.AsMap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

func issuerV2(e *entratest.Emulator, tenantID string) string {
	return e.URL() + "/" + tenantID + "/v2.0"
}

func issuerV1(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

func ccForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
}

func pkcePair(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy"

// codeForm is a token request redeeming a code the web app got for alice.
func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {entratest.WebAppClientID}, "client_secret": {entratest.WebAppSecret},
		"code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}, "client_info": {"1"},
		"scope": {entratest.WebAPIAppIDURI + "/ToDoList.Read openid profile offline_access"}}
}

func aliceCode(e *entratest.Emulator, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = []string{entratest.WebAPIAppIDURI + "/ToDoList.Read", "openid", "profile", "offline_access"}
	}
	return e.NewTestCode(entratest.TestCode{ClientID: entratest.WebAppClientID, RedirectURI: redirectURI, User: entratest.Alice,
		Scopes: scopes, Nonce: "nonce-123", Challenge: pkcePair(testVerifier), Method: "S256"})
}

func TestClientCredentialsTokenShape(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	daemon := e.Directory()

	t.Run("v2.0 web API token, secret in the body", func(t *testing.T) {
		body := mustToken(t, e, entratest.ContosoTenantID, ccForm(entratest.DaemonClientID, entratest.DaemonSecret, entratest.WebAPIAppIDURI+"/.default"))
		for _, absent := range []string{"refresh_token", "id_token", "client_info", "scope"} {
			if _, ok := body[absent]; ok {
				t.Errorf("client-credentials answer carries %s: %v", absent, body)
			}
		}
		if body["token_type"] != "Bearer" || body["expires_in"].(float64) < 3600 || body["ext_expires_in"] == nil {
			t.Fatalf("answer %v", body)
		}
		c := v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
		want := map[string]any{"tid": entratest.ContosoTenantID, "azp": entratest.DaemonClientID, "azpacr": "1", "idtyp": "app",
			"ver": "2.0", "oid": daemon.Apps[2].ObjectID, "sub": daemon.Apps[2].ObjectID}
		for k, w := range want {
			if c[k] != w {
				t.Errorf("%s = %v, want %v", k, c[k], w)
			}
		}
		if roles := c["roles"].([]any); len(roles) != 1 || roles[0] != "ToDoList.Read.All" {
			t.Errorf("roles = %v, want [ToDoList.Read.All] (ReadWrite.All is not granted)", roles)
		}
		if _, ok := c["scp"]; ok {
			t.Errorf("app token carries scp: %v", c["scp"])
		}
	})

	t.Run("v1.0 Graph token, secret in the Authorization header", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default openid profile offline_access"}}
		status, body := postTokenWith(t, e.HTTPClient(), e.Authority(entratest.ContosoDomain)+"/oauth2/v2.0/token", form, func(r *http.Request) {
			r.SetBasicAuth(url.QueryEscape(entratest.DaemonClientID), url.QueryEscape(entratest.DaemonSecret))
		})
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
		c := v.verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
		if c["appid"] != entratest.DaemonClientID || c["appidacr"] != "1" || c["ver"] != "1.0" {
			t.Errorf("claims %v", c)
		}
		if roles := c["roles"].([]any); len(roles) != 1 || roles[0] != "User.Read.All" {
			t.Errorf("roles = %v", roles)
		}
	})
}

func TestAuthorizationCodeGrant(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	body := mustToken(t, e, "organizations", codeForm(aliceCode(e), testVerifier))

	c := v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
	if c["scp"] != "ToDoList.Read" || c["azp"] != entratest.WebAppClientID || c["azpacr"] != "1" || c["name"] != "Alice Smith" ||
		c["preferred_username"] != entratest.Alice || c["oid"] != "a11ce000-0000-4000-8000-00000000a11c" {
		t.Errorf("access token claims %v", c)
	}
	id := v.verify(t, body["id_token"].(string), entratest.WebAppClientID, issuerV2(e, entratest.ContosoTenantID))
	if id["nonce"] != "nonce-123" || id["oid"] != c["oid"] || id["sid"] != "test-session" || id["email"] != entratest.Alice {
		t.Errorf("id token claims %v", id)
	}
	if id["sub"] != c["sub"] {
		t.Errorf("the ID token's and access token's sub differ for the same app: %v %v", id["sub"], c["sub"])
	}
	scope := strings.Fields(body["scope"].(string))
	for _, want := range []string{entratest.WebAPIAppIDURI + "/ToDoList.Read", "openid", "profile", "offline_access"} {
		if !slices.Contains(scope, want) {
			t.Errorf("scope %q lacks %s", body["scope"], want)
		}
	}
	if body["refresh_token"] == nil {
		t.Error("no refresh_token though offline_access was asked")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	if err != nil {
		t.Fatalf("client_info is not unpadded base64url: %v", err)
	}
	var ci map[string]string
	if err := json.Unmarshal(raw, &ci); err != nil || ci["uid"] != c["oid"] || ci["utid"] != entratest.ContosoTenantID {
		t.Errorf("client_info %s", raw)
	}

	t.Run("plain PKCE", func(t *testing.T) {
		code := e.NewTestCode(entratest.TestCode{ClientID: entratest.WebAppClientID, RedirectURI: redirectURI, User: entratest.Bob,
			Scopes: []string{"User.Read"}, Challenge: testVerifier, Method: "plain"})
		form := codeForm(code, testVerifier)
		form.Set("scope", "User.Read")
		body := mustToken(t, e, entratest.ContosoTenantID, form)
		c := v.verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
		if c["scp"] != "User.Read" || c["upn"] != entratest.Bob {
			t.Errorf("claims %v", c)
		}
		if body["id_token"] != nil || body["refresh_token"] != nil {
			t.Errorf("id or refresh token without openid/offline_access: %v", body)
		}
	})
}

func TestTokensCarryEveryConsentedScope(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	e.GrantTestConsent(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.ReadWrite")
	body := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))
	c := v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
	if c["scp"] != "ToDoList.Read ToDoList.ReadWrite" {
		t.Errorf("scp = %q, want both consented scopes", c["scp"])
	}
	if !strings.Contains(body["scope"].(string), entratest.WebAPIAppIDURI+"/ToDoList.ReadWrite") {
		t.Errorf("scope %q does not list the other consented scope", body["scope"])
	}
}

func TestRefreshTokenAcrossResources(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	first := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))
	refresh := func(rt, scope string) (int, map[string]any) {
		return postToken(t, e, entratest.ContosoTenantID, url.Values{"grant_type": {"refresh_token"}, "client_id": {entratest.WebAppClientID},
			"client_secret": {entratest.WebAppSecret}, "refresh_token": {rt}, "scope": {scope}, "client_info": {"1"}})
	}
	status, graph := refresh(first["refresh_token"].(string), "https://graph.microsoft.com/User.Read openid offline_access")
	if status != http.StatusOK {
		t.Fatalf("refresh for Graph: %d %v", status, graph)
	}
	c := v.verify(t, graph["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if c["scp"] != "User.Read" || c["appid"] != entratest.WebAppClientID {
		t.Errorf("Graph token claims %v", c)
	}
	if graph["refresh_token"] == nil || graph["refresh_token"] == first["refresh_token"] || graph["id_token"] == nil {
		t.Fatalf("refresh answer lacks a new refresh token or the ID token: %v", graph)
	}
	// The new refresh token works, back on the web API.
	if status, body := refresh(graph["refresh_token"].(string), entratest.WebAPIClientID+"/ToDoList.Read"); status != http.StatusOK {
		t.Fatalf("second refresh: %d %v", status, body)
	} else if !strings.Contains(body["scope"].(string), entratest.WebAPIClientID+"/ToDoList.Read") {
		t.Errorf("scope %q does not echo the scope in the form requested", body["scope"])
	}

	// Revoking alice's sessions revokes every refresh token she holds.
	if err := e.RevokeRefreshTokens(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	status, body := refresh(graph["refresh_token"].(string), "User.Read")
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || codeOf(body) != 50173 {
		t.Fatalf("revoked refresh token: %d %v", status, body)
	}
	if err := e.RevokeRefreshTokens("nobody@contoso.onmicrosoft.com"); err == nil {
		t.Error("RevokeRefreshTokens of an unknown user succeeded")
	}
}

func TestOnBehalfOf(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	userToken := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))["access_token"].(string)
	body := mustToken(t, e, entratest.ContosoTenantID, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"requested_token_use": {"on_behalf_of"}, "client_id": {entratest.WebAPIClientID}, "client_secret": {entratest.WebAPISecret},
		"assertion": {userToken}, "scope": {"https://graph.microsoft.com/User.Read offline_access"}})
	c := v.verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if c["scp"] != "User.Read" || c["appid"] != entratest.WebAPIClientID || c["oid"] != "a11ce000-0000-4000-8000-00000000a11c" || c["upn"] != entratest.Alice {
		t.Errorf("on-behalf-of token claims %v", c)
	}
	if body["refresh_token"] == nil {
		t.Errorf("no refresh token with offline_access: %v", body)
	}
}

func TestClaimsChallengeIsSatisfiedByATokenRequestWithTheClaims(t *testing.T) {
	e := entratest.Start(t)
	claims, err := e.RequireClaimsChallenge(entratest.Alice)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid([]byte(claims)) || !strings.Contains(claims, `"nbf"`) {
		t.Fatalf("claims %q", claims)
	}
	if _, err := e.RequireClaimsChallenge("nobody"); err == nil {
		t.Error("RequireClaimsChallenge of an unknown user succeeded")
	}
	first := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))
	if _, pending := e.PendingClaims(entratest.Alice); !pending {
		t.Fatal("a token request without the claims cleared the challenge")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {entratest.WebAppClientID}, "client_secret": {entratest.WebAppSecret},
		"refresh_token": {first["refresh_token"].(string)}, "scope": {"User.Read"}}
	form.Set("claims", `{"access_token":{"nbf":{"essential":true,"value":"1"},"xms_cc":{"values":["cp1"]}}}`)
	mustToken(t, e, entratest.ContosoTenantID, form)
	if _, pending := e.PendingClaims(entratest.Alice); !pending {
		t.Fatal("claims with another nbf value cleared the challenge")
	}
	// MSAL merges the challenge with the client's capabilities.
	var merged map[string]map[string]any
	_ = json.Unmarshal([]byte(claims), &merged)
	merged["access_token"]["xms_cc"] = map[string]any{"values": []string{"cp1"}}
	mergedJSON, _ := json.Marshal(merged)
	form.Set("claims", string(mergedJSON))
	body := mustToken(t, e, entratest.ContosoTenantID, form)
	if _, pending := e.PendingClaims(entratest.Alice); pending {
		t.Fatal("a token request carrying the claims did not clear the challenge")
	}
	c := newVerifier(t, e, nil).verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if xms, _ := c["xms_cc"].([]any); len(xms) != 1 || xms[0] != "cp1" {
		t.Errorf("xms_cc = %v, want [cp1] for a client declaring cp1", c["xms_cc"])
	}
}

func TestClientCredentialsTokenReuseWithinASecond(t *testing.T) {
	clk := newClock()
	e := entratest.Start(t, entratest.WithClock(clk.Now))
	form := ccForm(entratest.DaemonClientID, entratest.DaemonSecret, entratest.WebAPIAppIDURI+"/.default")
	a := mustToken(t, e, entratest.ContosoTenantID, form)["access_token"]
	b := mustToken(t, e, entratest.ContosoTenantID, form)["access_token"]
	if a != b {
		t.Error("two identical requests in the same second got different tokens")
	}
	other := mustToken(t, e, entratest.ContosoTenantID, ccForm(entratest.DaemonClientID, entratest.DaemonSecret, "https://graph.microsoft.com/.default"))["access_token"]
	clk.Advance(time.Second)
	c := mustToken(t, e, entratest.ContosoTenantID, form)["access_token"]
	if c == a || other == a {
		t.Error("a token was reused for another second or another resource")
	}
	if err := e.RotateSigningKeys(); err != nil {
		t.Fatal(err)
	}
	d := mustToken(t, e, entratest.ContosoTenantID, form)["access_token"].(string)
	msg, err := jws.ParseString(d)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := jws.ParseString(c.(string))
	if msg.Signatures()[0].ProtectedHeaders().KeyID() == old.Signatures()[0].ProtectedHeaders().KeyID() {
		t.Error("after a key rotation a token signed by the old key was reused")
	}
}

// codeOf returns the first AADSTS code of an error answer.
func codeOf(body map[string]any) int {
	codes, _ := body["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	f, _ := codes[0].(float64)
	return int(f)
}

// TestTokenEndpointRefusesWhatEntraRefuses checks every refusal of the token endpoint: status, OAuth error
// and AADSTS code, as Entra answers.
func TestTokenEndpointRefusesWhatEntraRefuses(t *testing.T) {
	clk := newClock()
	e := entratest.Start(t, entratest.WithClock(clk.Now))
	daemonCC := func(scope string) url.Values { return ccForm(entratest.DaemonClientID, entratest.DaemonSecret, scope) }
	webAppRefresh := func(scope string) url.Values {
		rt := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))["refresh_token"].(string)
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {entratest.WebAppClientID}, "client_secret": {entratest.WebAppSecret},
			"refresh_token": {rt}, "scope": {scope}}
	}
	redeemed := aliceCode(e)
	mustToken(t, e, entratest.ContosoTenantID, codeForm(redeemed, testVerifier))
	aliceAPIToken := mustToken(t, e, entratest.ContosoTenantID, codeForm(aliceCode(e), testVerifier))["access_token"].(string)
	obo := func(assertion, scope string) url.Values {
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "requested_token_use": {"on_behalf_of"},
			"client_id": {entratest.WebAPIClientID}, "client_secret": {entratest.WebAPISecret}, "assertion": {assertion}, "scope": {scope}}
	}
	signed := func(mutate func(map[string]any)) string {
		claims, err := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
		if err != nil {
			t.Fatal(err)
		}
		mutate(claims)
		tok, err := e.IssueToken(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	appToken := mustToken(t, e, entratest.ContosoTenantID, daemonCC(entratest.WebAPIAppIDURI+"/.default"))["access_token"].(string)
	parts := strings.Split(aliceAPIToken, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"`+entratest.WebAPIClientID+`","scp":"ToDoList.ReadWrite"}`)) + "." + parts[2]

	cases := []struct {
		name   string
		tenant string
		form   func() url.Values
		status int
		error  string
		code   int
	}{
		{"unknown tenant", "nosuchtenant.onmicrosoft.com", func() url.Values { return daemonCC(entratest.WebAPIAppIDURI + "/.default") }, 400, "invalid_request", 90002},
		{"missing grant_type", entratest.ContosoTenantID, func() url.Values { f := daemonCC("x"); f.Del("grant_type"); return f }, 400, "invalid_request", 900144},
		{"unsupported grant_type", entratest.ContosoTenantID, func() url.Values { f := daemonCC("x"); f.Set("grant_type", "password"); return f }, 400, "unsupported_grant_type", 70003},
		{"unknown client", entratest.ContosoTenantID, func() url.Values { return ccForm("99999999-0000-0000-0000-000000000000", "x", "api://x/.default") }, 400, "unauthorized_client", 700016},
		{"single-tenant app in another tenant", entratest.FabrikamTenantID, func() url.Values { return daemonCC(entratest.WebAPIAppIDURI + "/.default") }, 400, "unauthorized_client", 700016},
		{"client_credentials on common", "common", func() url.Values { return daemonCC(entratest.WebAPIAppIDURI + "/.default") }, 400, "invalid_request", 50059},
		{"client_credentials on organizations", "organizations", func() url.Values { return daemonCC(entratest.WebAPIAppIDURI + "/.default") }, 400, "invalid_request", 50059},
		{"single-tenant app on common", "common", func() url.Values {
			f := webAppRefresh("User.Read")
			f.Set("client_id", entratest.DaemonClientID)
			return f
		}, 400, "invalid_request", 50194},
		{"wrong secret", entratest.ContosoTenantID, func() url.Values {
			return ccForm(entratest.DaemonClientID, "wrong", entratest.WebAPIAppIDURI+"/.default")
		}, 401, "invalid_client", 7000215},
		{"another app's secret", entratest.ContosoTenantID, func() url.Values {
			return ccForm(entratest.DaemonClientID, entratest.WebAPISecret, entratest.WebAPIAppIDURI+"/.default")
		}, 401, "invalid_client", 7000215},
		{"no credential, client_credentials", entratest.ContosoTenantID, func() url.Values {
			f := daemonCC(entratest.WebAPIAppIDURI + "/.default")
			f.Del("client_secret")
			return f
		}, 401, "invalid_client", 7000216},
		{"no credential, refresh_token", entratest.ContosoTenantID, func() url.Values { f := webAppRefresh("User.Read"); f.Del("client_secret"); return f }, 401, "invalid_client", 7000218},
		{"client_credentials without .default", entratest.ContosoTenantID, func() url.Values { return daemonCC(entratest.WebAPIAppIDURI + "/ToDoList.Read") }, 400, "invalid_scope", 1002012},
		{"client_credentials for two resources", entratest.ContosoTenantID, func() url.Values {
			return daemonCC(entratest.WebAPIAppIDURI + "/.default https://graph.microsoft.com/.default")
		}, 400, "invalid_scope", 70011},
		{"client_credentials without scope", entratest.ContosoTenantID, func() url.Values { return daemonCC("openid profile offline_access") }, 400, "invalid_request", 900144},
		{"unknown resource", entratest.ContosoTenantID, func() url.Values { return daemonCC("api://nosuchapi/.default") }, 400, "invalid_resource", 500011},
		{"replayed code", entratest.ContosoTenantID, func() url.Values { return codeForm(redeemed, testVerifier) }, 400, "invalid_grant", 54005},
		{"unknown code", entratest.ContosoTenantID, func() url.Values { return codeForm("1.Anosuchcode", testVerifier) }, 400, "invalid_grant", 9002313},
		{"code with another redirect URI", entratest.ContosoTenantID, func() url.Values {
			f := codeForm(aliceCode(e), testVerifier)
			f.Set("redirect_uri", "http://localhost:5000/other")
			return f
		}, 400, "invalid_grant", 50011},
		{"PKCE verifier mismatch", entratest.ContosoTenantID, func() url.Values { return codeForm(aliceCode(e), testVerifier+"x") }, 400, "invalid_grant", 501481},
		{"PKCE verifier missing", entratest.ContosoTenantID, func() url.Values { return codeForm(aliceCode(e), "") }, 400, "invalid_grant", 501481},
		{"code redeemed by another client", entratest.ContosoTenantID, func() url.Values {
			f := codeForm(aliceCode(e), testVerifier)
			f.Set("client_id", entratest.WebAPIClientID)
			f.Set("client_secret", entratest.WebAPISecret)
			return f
		}, 400, "invalid_grant", 70000},
		{"code redeemed in another tenant", entratest.FabrikamTenantID, func() url.Values { return codeForm(aliceCode(e), testVerifier) }, 400, "invalid_grant", 700005},
		{"scopes of two resources", entratest.ContosoTenantID, func() url.Values {
			return webAppRefresh(entratest.WebAPIAppIDURI + "/ToDoList.Read https://graph.microsoft.com/User.Read")
		}, 400, "invalid_scope", 28000},
		{"unknown scope", entratest.ContosoTenantID, func() url.Values { return webAppRefresh(entratest.WebAPIAppIDURI + "/ToDoList.Delete") }, 400, "invalid_scope", 70011},
		{"bare name that is not a Graph scope", entratest.ContosoTenantID, func() url.Values { return webAppRefresh("ToDoList.Read") }, 400, "invalid_scope", 70011},
		{"scope not consented", entratest.ContosoTenantID, func() url.Values { return webAppRefresh("https://graph.microsoft.com/Mail.Read") }, 400, "invalid_grant", 65001},
		{"unknown refresh token", entratest.ContosoTenantID, func() url.Values { f := webAppRefresh("User.Read"); f.Set("refresh_token", "1.Anosuch"); return f }, 400, "invalid_grant", 9002313},
		{"refresh token of another client", entratest.ContosoTenantID, func() url.Values {
			f := webAppRefresh("User.Read")
			f.Set("client_id", entratest.WebAPIClientID)
			f.Set("client_secret", entratest.WebAPISecret)
			return f
		}, 400, "invalid_grant", 70000},
		{"on-behalf-of without requested_token_use", entratest.ContosoTenantID, func() url.Values { f := obo(aliceAPIToken, "User.Read"); f.Del("requested_token_use"); return f }, 400, "invalid_request", 900144},
		{"on-behalf-of without assertion", entratest.ContosoTenantID, func() url.Values { f := obo(aliceAPIToken, "User.Read"); f.Del("assertion"); return f }, 400, "invalid_request", 900144},
		{"on-behalf-of assertion for another audience", entratest.ContosoTenantID, func() url.Values {
			return obo(signed(func(c map[string]any) { c["aud"] = entratest.GraphAppID }), "User.Read")
		}, 400, "invalid_grant", 500131},
		{"on-behalf-of expired assertion", entratest.ContosoTenantID, func() url.Values {
			return obo(signed(func(c map[string]any) { c["exp"] = clk.Now().Add(-time.Minute).Unix() }), "User.Read")
		}, 400, "invalid_grant", 500133},
		{"on-behalf-of forged assertion", entratest.ContosoTenantID, func() url.Values { return obo(forged, "User.Read") }, 400, "invalid_grant", 50013},
		{"on-behalf-of assertion from another issuer", entratest.ContosoTenantID, func() url.Values {
			return obo(signed(func(c map[string]any) {
				c["iss"] = "https://login.microsoftonline.com/" + entratest.ContosoTenantID + "/v2.0"
			}), "User.Read")
		}, 400, "invalid_grant", 50013},
		{"on-behalf-of with an app token", entratest.ContosoTenantID, func() url.Values { return obo(appToken, "User.Read") }, 400, "invalid_grant", 50013},
		{"on-behalf-of malformed assertion", entratest.ContosoTenantID, func() url.Values { return obo("not-a-jwt", "User.Read") }, 400, "invalid_request", 50027},
		{"on-behalf-of scope not consented for the middle tier", entratest.ContosoTenantID, func() url.Values {
			return obo(aliceAPIToken, "https://graph.microsoft.com/Mail.Read")
		}, 400, "invalid_grant", 65001},
		{"on-behalf-of for a user of another tenant", entratest.FabrikamTenantID, func() url.Values { return obo(aliceAPIToken, "User.Read") }, 400, "invalid_grant", 50034},
		// These move the clock: keep them last.
		{"expired code", entratest.ContosoTenantID, func() url.Values {
			code := aliceCode(e)
			clk.Advance(10*time.Minute + time.Second)
			return codeForm(code, testVerifier)
		}, 400, "invalid_grant", 70008},
		{"expired refresh token", entratest.ContosoTenantID, func() url.Values {
			f := webAppRefresh("User.Read")
			clk.Advance(91 * 24 * time.Hour)
			return f
		}, 400, "invalid_grant", 700082},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, e, tc.tenant, tc.form())
			if status != tc.status || body["error"] != tc.error || codeOf(body) != tc.code {
				t.Fatalf("got %d %v AADSTS%d, want %d %s AADSTS%d: %v", status, body["error"], codeOf(body), tc.status, tc.error, tc.code, body["error_description"])
			}
			desc, _ := body["error_description"].(string)
			if !strings.HasPrefix(desc, "AADSTS") || body["trace_id"] == nil || body["correlation_id"] == nil || body["timestamp"] == nil {
				t.Errorf("error answer is not shaped as Entra's: %v", body)
			}
			if tc.code == 65001 && body["suberror"] != "consent_required" {
				t.Errorf("suberror = %v, want consent_required", body["suberror"])
			}
		})
	}
}

func TestTokenEndpointFaults(t *testing.T) {
	clk := newClock()
	e := entratest.Start(t, entratest.WithClock(clk.Now))
	form := ccForm(entratest.DaemonClientID, entratest.DaemonSecret, entratest.WebAPIAppIDURI+"/.default")

	e.FailEndpoint(entratest.EndpointToken, http.StatusServiceUnavailable, time.Minute)
	if status, body := postToken(t, e, entratest.ContosoTenantID, form); status != http.StatusServiceUnavailable || body["access_token"] != nil {
		t.Fatalf("failing token endpoint: %d %v", status, body)
	}
	clk.Advance(time.Minute)
	mustToken(t, e, entratest.ContosoTenantID, form) // the fault has expired

	e.FailEndpoint(entratest.EndpointToken, 0, 0) // drop connections until cleared
	if resp, err := e.HTTPClient().PostForm(e.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/token", form); err == nil {
		resp.Body.Close()
		t.Fatalf("a dropping token endpoint answered %d", resp.StatusCode)
	}
	e.ClearFaults()
	mustToken(t, e, entratest.ContosoTenantID, form)

	e.SlowEndpoint(entratest.EndpointToken, time.Minute, 0)
	impatient := e.HTTPClient()
	impatient.Timeout = 300 * time.Millisecond
	start := time.Now()
	if resp, err := impatient.PostForm(e.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/token", form); err == nil {
		resp.Body.Close()
		t.Fatalf("a slow token endpoint answered %d within the client's timeout", resp.StatusCode)
	}
	if waited := time.Since(start); waited > 20*time.Second {
		t.Fatalf("the client waited %v for a slow endpoint despite its timeout", waited)
	}
	e.ClearFaults()
	mustToken(t, e, entratest.ContosoTenantID, form)
}
