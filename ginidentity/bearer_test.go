package ginidentity

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestNewBearerAuthReportsEveryProblemWithItsFix(t *testing.T) {
	_, err := NewBearerAuth(BearerOptions{
		Instance:          "http://login.example/",
		AllowedTenants:    []string{"contoso.onmicrosoft.com"},
		AllowedAlgorithms: []string{"HS256", "none", "XX1"},
		ClockSkew:         -time.Second,
		MaxTokenBytes:     -1,
		Audiences:         []string{" "},
	})
	if err == nil {
		t.Fatal("NewBearerAuth accepted a broken configuration")
	}
	for _, want := range []string{
		`BearerOptions.Instance "http://login.example/" is not https`,
		"BearerOptions.TenantID is required: set the tenant id",
		"BearerOptions.ClientID is required: set the web API's application (client) id (AzureAd:ClientId)",
		`BearerOptions.AllowedTenants[0] "contoso.onmicrosoft.com" is not a tenant id`,
		`BearerOptions.AllowedAlgorithms holds "HS256", which is unsigned or symmetric`,
		`BearerOptions.AllowedAlgorithms holds "none", which is unsigned or symmetric`,
		`BearerOptions.AllowedAlgorithms holds "XX1", which is not a JWS signature algorithm`,
		"BearerOptions.ClockSkew is negative (-1s): leave it zero for the default of 5m0s",
		"BearerOptions.MaxTokenBytes is negative",
		"BearerOptions.Audiences[0] is empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, "BearerOptions.") {
		t.Errorf("errors.As(*ConfigError) failed on %v", err)
	}

	for name, opts := range map[string]BearerOptions{
		"instance with a path": {Instance: "https://login.example/contoso", TenantID: idpTenant, ClientID: idpAPIClientID},
		"client id as a URI":   {TenantID: idpTenant, ClientID: "api://" + idpAPIClientID},
		"tenant with a slash":  {TenantID: "contoso/v2.0", ClientID: idpAPIClientID},
		"negative interval":    {TenantID: idpTenant, ClientID: idpAPIClientID, UnknownKeyRefreshInterval: -1},
	} {
		if _, err := NewBearerAuth(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewBearerAuth(BearerOptions{TenantID: "organizations", ClientID: idpAPIClientID}); err != nil {
		t.Errorf("minimal multi-tenant options refused: %v", err)
	}
}

func TestMiddlewareAcceptsValidTokenAndSetsClaimsInBothContexts(t *testing.T) {
	f := newBearerFixture(t, nil)
	rec := f.do(f.sign(f.claims()))
	if rec.Code != http.StatusOK || rec.Body.String() != idpUserOID {
		t.Fatalf("got %d %q, want 200 with the object id", rec.Code, rec.Body)
	}
}

func TestMiddlewareWithoutTokenAnswers401WithoutErrorCode(t *testing.T) {
	f := newBearerFixture(t, nil)
	for name, header := range map[string]string{"no header": "", "basic scheme": "Basic dXNlcjpwYXNz", "empty bearer": "Bearer   "} {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		f.engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, rec.Code)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("%s: WWW-Authenticate %q, want exactly Bearer (no error code)", name, got)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error_description"] == "" {
			t.Errorf("%s: body %q is not the JSON error", name, rec.Body)
		}
	}
	if f.idp.discoveryHits.Load() != 0 {
		t.Error("a request without a token fetched the keys")
	}
}

func TestMiddlewareRefusesTwoAuthorizationHeaders(t *testing.T) {
	f := newBearerFixture(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	tok := f.sign(f.claims())
	req.Header.Add("Authorization", "Bearer "+tok)
	req.Header.Add("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_request") {
		t.Fatalf("got %d %s, want 400 invalid_request", rec.Code, rec.Body)
	}
}

func TestInvalidTokenResponseFollowsRFC6750WithoutLeaking(t *testing.T) {
	f := newBearerFixture(t, nil)
	secret := "carol-secret-display-name"
	tok := f.sign(claimsWith(f.claims(), map[string]any{"aud": "someone-else", "name": secret}))
	rec := f.do(tok)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", rec.Code)
	}
	want := `Bearer error="invalid_token", error_description="the token is not meant for this API (audience)"`
	if got := rec.Header().Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["error"] != "invalid_token" || body["error_description"] != "the token is not meant for this API (audience)" {
		t.Errorf("body %v", body)
	}
	if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Body.String(), "someone-else") ||
		strings.Contains(f.logs.String(), tok) {
		t.Error("the response or the log repeats the token or its claims")
	}
	if !strings.Contains(f.logs.String(), "request refused") {
		t.Errorf("no debug line for the refusal: %s", f.logs)
	}
}

func TestOnErrorCustomizesAndTheChainStopsEvenIfItForgetsToAbort(t *testing.T) {
	var seen []*BearerError
	f := newBearerFixture(t, func(o *BearerOptions) {
		o.OnError = func(c *gin.Context, err *BearerError) {
			seen = append(seen, err)
			if errors.Is(err, ErrNoToken) {
				c.JSON(http.StatusTeapot, gin.H{"custom": true}) // writes but does not abort
			}
			// for other errors: writes nothing and does not abort
		}
	})
	rec := f.do("")
	if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), "custom") {
		t.Errorf("custom handler's answer lost: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(f.sign(claimsWith(f.claims(), map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()})))
	if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), idpUserOID) {
		t.Errorf("a handler that wrote nothing let the request through or lost the default answer: %d %s", rec.Code, rec.Body)
	}
	if len(seen) != 2 || !errors.Is(seen[1], ErrTokenExpired) || !errors.Is(seen[1], ErrInvalidToken) {
		t.Errorf("OnError saw %v", seen)
	}
}

func TestValidateTokenForCodeOutsideGin(t *testing.T) {
	f := newBearerFixture(t, nil)
	cl, err := f.auth.ValidateToken(context.Background(), f.sign(f.claims()))
	if err != nil || cl.ObjectID() != idpUserOID {
		t.Fatalf("ValidateToken: %v, %v", cl, err)
	}
	_, err = f.auth.ValidateToken(context.Background(), "not.a.token")
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("ValidateToken(garbage) = %v, want ErrInvalidToken", err)
	}
}

func TestAudienceRulesOfMicrosoftIdentityWeb(t *testing.T) {
	const appIDURI = "api://" + idpAPIClientID
	const custom = "https://api.contoso.example/todo"
	for _, tc := range []struct {
		name     string
		aud      any
		ver      string
		accepted bool
	}{
		{"v2 client id", idpAPIClientID, "2.0", true},
		{"v2 App ID URI", appIDURI, "2.0", false},
		{"v1 App ID URI", appIDURI, "1.0", true},
		{"v1 client id", idpAPIClientID, "1.0", false},
		{"configured audience, v2", custom, "2.0", true},
		{"configured audience, v1", custom, "1.0", true},
		{"array with the client id", []string{"other", idpAPIClientID}, "2.0", true},
		{"array without", []string{"other", "another"}, "2.0", false},
		{"no version", idpAPIClientID, "", false},
		{"empty array", []string{}, "2.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBearerFixture(t, func(o *BearerOptions) { o.Audiences = []string{custom} })
			claims := claimsWith(f.claims(), map[string]any{"aud": tc.aud, "ver": tc.ver})
			if tc.ver == "1.0" {
				claims = claimsWith(claims, map[string]any{"iss": "https://sts.windows.net/" + idpTenant + "/", "appid": idpCallerID, "azp": nil})
			}
			_, err := f.auth.ValidateToken(context.Background(), f.sign(claims))
			if tc.accepted && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.accepted && !errors.Is(err, errAudience) {
				t.Fatalf("got %v, want the audience error", err)
			}
		})
	}
}

func TestIssuerRules(t *testing.T) {
	type check struct {
		iss, tid string
		want     error
	}
	idp := "IDP" // replaced by the IdP's URL
	v1 := func(tid string) string { return "https://sts.windows.net/" + tid + "/" }
	for _, tc := range []struct {
		name    string
		tenant  string
		allowed []string
		checks  []check
	}{
		{"single tenant by id", idpTenant, nil, []check{
			{idp + "/" + idpTenant + "/v2.0", idpTenant, nil},
			{v1(idpTenant), idpTenant, nil},
			{idp + "/" + idpOtherTenant + "/v2.0", idpOtherTenant, errIssuer},
			{v1(idpOtherTenant), idpOtherTenant, errIssuer},
			{idp + "/" + idpTenant + "/v2.0", idpOtherTenant, errIssuer},
			{idp + "/" + idpTenant + "/v2.0/", idpTenant, errIssuer},
			{"https://evil.example/" + idpTenant + "/v2.0", idpTenant, errIssuer},
			{idp + "/" + idpTenant + "/v2.0", "", errNoTenant},
		}},
		{"single tenant by domain", idpTenantDomain, nil, []check{
			{idp + "/" + idpTenant + "/v2.0", idpTenant, nil},
			{idp + "/" + idpOtherTenant + "/v2.0", idpOtherTenant, errIssuer},
		}},
		{"multi-tenant", "organizations", nil, []check{
			{idp + "/" + idpTenant + "/v2.0", idpTenant, nil},
			{idp + "/" + idpOtherTenant + "/v2.0", idpOtherTenant, nil},
			{v1(idpOtherTenant), idpOtherTenant, nil},
			{idp + "/" + idpTenant + "/v2.0", idpOtherTenant, errIssuer},
			{v1(idpTenant), idpOtherTenant, errIssuer},
		}},
		{"multi-tenant with allowed tenants", "common", []string{idpTenant, strings.ToUpper(idpOtherTenant)}, []check{
			{idp + "/" + idpTenant + "/v2.0", idpTenant, nil},
			{idp + "/" + idpOtherTenant + "/v2.0", idpOtherTenant, nil},
			{idp + "/" + idpThirdTenant + "/v2.0", idpThirdTenant, errTenantNotAllowed},
			{v1(idpThirdTenant), idpThirdTenant, errTenantNotAllowed},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBearerFixture(t, func(o *BearerOptions) { o.TenantID = tc.tenant; o.AllowedTenants = tc.allowed })
			for _, c := range tc.checks {
				iss := strings.Replace(c.iss, idp, f.idp.srv.URL, 1)
				claims := claimsWith(f.claims(), map[string]any{"iss": iss, "tid": c.tid})
				if c.tid == "" {
					claims = claimsWith(claims, map[string]any{"tid": nil})
				}
				if strings.HasPrefix(iss, "https://sts.windows.net/") {
					claims = claimsWith(claims, map[string]any{"ver": "1.0", "aud": "api://" + idpAPIClientID})
				}
				want := c.want
				_, err := f.auth.ValidateToken(context.Background(), f.sign(claims))
				if want == nil && err != nil {
					t.Errorf("iss %s tid %s: refused: %v", iss, c.tid, err)
				}
				if want != nil && !errors.Is(err, want) {
					t.Errorf("iss %s tid %s: got %v, want %v", iss, c.tid, err, want)
				}
			}
		})
	}
}

func TestLifetimeWithClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		skew     time.Duration
		exp, nbf time.Duration // relative to now
		want     error
	}{
		{"valid", 0, time.Hour, -time.Minute, nil},
		{"expired within the default skew", 0, -4 * time.Minute, -time.Hour, nil},
		{"expired beyond the default skew", 0, -6 * time.Minute, -time.Hour, ErrTokenExpired},
		{"not yet valid within the skew", 0, time.Hour, 4 * time.Minute, nil},
		{"not yet valid beyond the skew", 0, time.Hour, 6 * time.Minute, errNotYetValid},
		{"expired with a 1 s skew", time.Second, -2 * time.Second, -time.Hour, ErrTokenExpired},
		{"nbf with a 1 s skew", time.Second, time.Hour, 2 * time.Second, errNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBearerFixture(t, func(o *BearerOptions) { o.ClockSkew = tc.skew })
			now := f.clock.Now()
			tok := f.sign(claimsWith(f.claims(), map[string]any{"exp": now.Add(tc.exp).Unix(), "nbf": now.Add(tc.nbf).Unix()}))
			_, err := f.auth.ValidateToken(context.Background(), tok)
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScopesOrRolesRequiredUnlessACL(t *testing.T) {
	claims := func(f *bearerFixture) map[string]any {
		return claimsWith(f.claims(), map[string]any{"scp": nil, "roles": nil, "idtyp": "app"})
	}
	f := newBearerFixture(t, nil)
	if _, err := f.auth.ValidateToken(context.Background(), f.sign(claims(f))); !errors.Is(err, errNoScopesNorRoles) {
		t.Fatalf("a token without scp or roles: %v, want errNoScopesNorRoles", err)
	}
	if _, err := f.auth.ValidateToken(context.Background(), f.sign(claimsWith(claims(f), map[string]any{"scp": "  "}))); !errors.Is(err, errNoScopesNorRoles) {
		t.Fatalf("a token with a blank scp: %v, want errNoScopesNorRoles", err)
	}
	if _, err := f.auth.ValidateToken(context.Background(), f.sign(claimsWith(claims(f), map[string]any{"roles": []string{"Read.All"}}))); err != nil {
		t.Fatalf("an app token with roles: %v", err)
	}
	acl := newBearerFixture(t, func(o *BearerOptions) { o.AllowWebAPIToBeAuthorizedByACL = true })
	if _, err := acl.auth.ValidateToken(context.Background(), acl.sign(claims(acl))); err != nil {
		t.Fatalf("with AllowWebAPIToBeAuthorizedByACL: %v", err)
	}
}

func TestMaxTokenBytesRefusesBeforeParsing(t *testing.T) {
	f := newBearerFixture(t, func(o *BearerOptions) { o.MaxTokenBytes = 1000 })
	tok := f.sign(f.claims())
	if len(tok) <= 1000 {
		t.Fatalf("the test token is only %d bytes", len(tok))
	}
	if _, err := f.auth.ValidateToken(context.Background(), tok); !errors.Is(err, errTokenTooLarge) {
		t.Fatalf("got %v, want errTokenTooLarge", err)
	}
	if f.idp.discoveryHits.Load() != 0 {
		t.Error("an oversized token made the validator fetch keys")
	}
}
