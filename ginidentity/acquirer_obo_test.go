package ginidentity

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The caller of a web API: on-behalf-of with the incoming token, cached per incoming token.

// acqWebAPI is the sample web API's acquirer against the emulator (tenant contoso).
func acqWebAPI(t testing.TB, e *entratest.Emulator, cfgEdit func(*Config), opts *AcquirerOptions) (*TokenAcquirer, *acqCounter) {
	t.Helper()
	hc, c := acqCountingClient(e)
	if opts == nil {
		opts = &AcquirerOptions{}
	}
	opts.HTTPClient = hc
	cfg := acqConfig(e, entratest.ContosoTenantID, entratest.WebAPIClientID, entratest.WebAPISecret)
	if cfgEdit != nil {
		cfgEdit(cfg)
	}
	return acqNew(t, cfg, opts), c
}

// acqCallerContext is the context the bearer middleware gives a web API's handler: the caller's claims and
// the token it presented (a token for the web API, issued to the web app, for the user).
func acqCallerContext(t testing.TB, e *entratest.Emulator, user string, lifetime time.Duration) context.Context {
	t.Helper()
	claims, err := e.UserTokenClaims(user, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	if err != nil {
		t.Fatal(err)
	}
	if lifetime != 0 {
		claims["exp"] = time.Now().Add(lifetime).Unix()
	}
	raw, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return WithClaims(acqContext(t), NewClaims(claims, raw))
}

func TestTokenForUserOnBehalfOfCachesPerIncomingToken(t *testing.T) {
	clock := &acqClock{now: time.Now()}
	e := entratest.Start(t, entratest.WithClock(clock.Now))
	a, reqs := acqWebAPI(t, e, nil, &AcquirerOptions{Now: clock.Now})
	alice := acqCallerContext(t, e, entratest.Alice, 0)

	first, err := a.TokenForUser(alice, graphUserRead)
	if err != nil {
		t.Fatal(err)
	}
	c := acqClaimsOf(t, first.AccessToken)
	if c["oid"] != acqObjectID(e, entratest.Alice) || c["appid"] != entratest.WebAPIClientID || c["scp"] != "User.Read" || first.FromCache {
		t.Fatalf("on-behalf-of token claims %v (from cache %t)", c, first.FromCache)
	}
	second, err := a.TokenForUser(alice, graphUserRead)
	if err != nil || second.AccessToken != first.AccessToken || !second.FromCache || reqs.get("token") != 1 {
		t.Fatalf("the same incoming token did not get the cached token: %v (%d token requests)", err, reqs.get("token"))
	}

	// Another incoming token, even of the same user, is another entry: its own exchange.
	time.Sleep(time.Second)
	again := acqCallerContext(t, e, entratest.Alice, 0)
	if tok, err := a.TokenForUser(again, graphUserRead); err != nil || tok.FromCache || reqs.get("token") != 2 {
		t.Errorf("another incoming token: %v, from cache %t", err, tok.FromCache)
	}
	bob := acqCallerContext(t, e, entratest.Bob, 0)
	bobTok, err := a.TokenForUser(bob, graphUserRead)
	if err != nil || acqClaimsOf(t, bobTok.AccessToken)["oid"] != acqObjectID(e, entratest.Bob) {
		t.Fatalf("bob: %v", err)
	}

	// Force refresh asks again; the answer replaces the cached token.
	forced, err := a.TokenForUser(alice, graphUserRead, WithForceRefresh())
	if err != nil || forced.FromCache || reqs.get("token") != 4 {
		t.Fatalf("forced: %v, from cache %t", err, forced.FromCache)
	}
	if tok, _ := a.TokenForUser(alice, graphUserRead); tok.AccessToken != forced.AccessToken {
		t.Error("the forced token did not replace the cached one")
	}

	// Five minutes before the token expires, the cache lets it go.
	clock.Add(71 * time.Minute)
	if tok, err := a.TokenForUser(alice, graphUserRead); err != nil || tok.FromCache || reqs.get("token") != 5 {
		t.Errorf("near expiry: %v, from cache %t", err, tok.FromCache)
	}
}

func TestTokenForUserOnBehalfOfErrors(t *testing.T) {
	e := entratest.Start(t)
	a, _ := acqWebAPI(t, e, nil, nil)

	t.Run("consent missing", func(t *testing.T) {
		_, err := a.TokenForUser(acqCallerContext(t, e, entratest.Alice, 0), graphMailRead)
		var ire *InteractionRequiredError
		if !errors.As(err, &ire) || !strings.Contains(ire.Reason, "65001") {
			t.Fatalf("error %v, want *InteractionRequiredError: consent missing", err)
		}
	})
	t.Run("expired incoming token", func(t *testing.T) {
		_, err := a.TokenForUser(acqCallerContext(t, e, entratest.Alice, -time.Minute), graphUserRead)
		var te *TokenEndpointError
		if !errors.As(err, &te) || !te.HasCode(500133) {
			t.Fatalf("error %v, want the token endpoint's AADSTS500133", err)
		}
		if strings.Contains(err.Error(), "eyJ") {
			t.Errorf("the error shows a token: %v", err)
		}
	})
}

// TestTokenForUserOnBehalfOfClaimsChallenge: Graph answers with a claims challenge (continuous access
// evaluation); the web API, declaring cp1, asks again with the claims and Graph accepts the new token.
func TestTokenForUserOnBehalfOfClaimsChallenge(t *testing.T) {
	e := entratest.Start(t)
	a, reqs := acqWebAPI(t, e, func(c *Config) { c.AzureAd.ClientCapabilities = []string{"cp1"} }, nil)
	alice := acqCallerContext(t, e, entratest.Alice, 0)
	if _, err := a.TokenForUser(alice, graphUserRead); err != nil {
		t.Fatal(err)
	}
	claims, err := e.RequireClaimsChallenge(entratest.Alice)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := a.TokenForUser(alice, graphUserRead)
	if err != nil {
		t.Fatal(err)
	}
	if status := acqGraphMe(t, e, cached.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("Graph answered %d to the old token, want the claims challenge (401)", status)
	}
	tok, err := a.TokenForUser(alice, graphUserRead, WithClaimsChallenge(claims))
	if err != nil {
		t.Fatal(err)
	}
	if tok.FromCache || reqs.get("token") != 2 || acqClaimsOf(t, tok.AccessToken)["xms_cc"] == nil {
		t.Errorf("with claims: from cache %t, %d token requests, claims %v", tok.FromCache, reqs.get("token"), acqClaimsOf(t, tok.AccessToken))
	}
	if status := acqGraphMe(t, e, tok.AccessToken); status != http.StatusOK {
		t.Errorf("Graph answered %d to the token with the claims", status)
	}
}

// acqGraphMe calls the emulator's Graph /me with the token and returns the status.
func acqGraphMe(t testing.TB, e *entratest.Emulator, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.GraphURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
