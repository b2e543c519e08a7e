package ginidentity

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// The signed-in user of a web app: tokens from the sign-in's partition, refreshed with its refresh token.

func TestTokenForUserServesCachedTokensAndRefreshesAfterExpiry(t *testing.T) {
	clock := &acqClock{now: time.Now()}
	e := entratest.Start(t, entratest.WithClock(clock.Now))
	a, reqs := acqWebApp(t, e, &AcquirerOptions{Now: clock.Now})
	red := acqSignIn(t, e, a, entratest.Alice, apiRead)
	if red.HomeAccountID != acqHomeAccountID(e, entratest.Alice) || red.IDToken == "" {
		t.Fatalf("redemption: home account %q, ID token %d bytes", red.HomeAccountID, len(red.IDToken))
	}
	ctx := acqUserContext(t, e, entratest.Alice)
	afterSignIn := reqs.get("token")

	cached, err := a.TokenForUser(ctx, apiRead)
	if err != nil {
		t.Fatal(err)
	}
	if cached.AccessToken != red.Token.AccessToken || !cached.FromCache || reqs.get("token") != afterSignIn {
		t.Errorf("the token of the sign-in was not served from the cache (from cache %t, %d token requests)", cached.FromCache, reqs.get("token")-afterSignIn)
	}
	if c := acqClaimsOf(t, cached.AccessToken); c["oid"] != acqObjectID(e, entratest.Alice) || c["scp"] != "ToDoList.Read" {
		t.Errorf("claims %v", c)
	}
	if !slices.Equal(cached.Scopes, []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"}) {
		t.Errorf("scopes %v", cached.Scopes)
	}

	// Another resource: MSAL redeems the refresh token once, then serves the new token from the cache.
	graph, err := a.TokenForUser(ctx, graphUserRead)
	if err != nil || graph.FromCache || reqs.get("token") != afterSignIn+1 {
		t.Fatalf("Graph token: %v, from cache %t, %d token requests", err, graph.FromCache, reqs.get("token")-afterSignIn)
	}
	if again, err := a.TokenForUser(ctx, graphUserRead); err != nil || again.AccessToken != graph.AccessToken || reqs.get("token") != afterSignIn+1 {
		t.Fatalf("second Graph call: %v, same token %t", err, again.AccessToken == graph.AccessToken)
	}

	// Seventy-five minutes on, the tokens expire: the next call refreshes, then serves the new token.
	clock.Add(75 * time.Minute)
	fresh, err := a.TokenForUser(ctx, apiRead)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.FromCache || fresh.AccessToken == cached.AccessToken || reqs.get("token") != afterSignIn+2 {
		t.Errorf("after expiry: from cache %t, same token %t", fresh.FromCache, fresh.AccessToken == cached.AccessToken)
	}
	if !fresh.ExpiresOn.After(clock.Now().Add(time.Hour)) {
		t.Errorf("the refreshed token expires at %v, %v after the clock", fresh.ExpiresOn, fresh.ExpiresOn.Sub(clock.Now()))
	}
	if again, err := a.TokenForUser(ctx, apiRead); err != nil || again.AccessToken != fresh.AccessToken || !again.FromCache {
		t.Errorf("the refreshed token was not cached: %v", err)
	}
	a.naive.noIndex = true // the same through MSAL's own cache
	if again, err := a.TokenForUser(ctx, apiRead); err != nil || again.AccessToken != fresh.AccessToken || reqs.get("token") != afterSignIn+2 {
		t.Errorf("MSAL did not serve the refreshed token from its cache: %v", err)
	}
}

func TestTokenForUserForceRefresh(t *testing.T) {
	e := entratest.Start(t)
	a, reqs := acqWebApp(t, e, nil)
	red := acqSignIn(t, e, a, entratest.Alice, apiRead)
	ctx := acqUserContext(t, e, entratest.Alice)
	before := reqs.get("token")
	time.Sleep(time.Second) // a token signed in the next second differs (iat)
	forced, err := a.TokenForUser(ctx, apiRead, WithForceRefresh())
	if err != nil {
		t.Fatal(err)
	}
	if forced.AccessToken == red.Token.AccessToken || forced.FromCache || reqs.get("token") != before+1 {
		t.Fatalf("WithForceRefresh served the cached token (from cache %t)", forced.FromCache)
	}
	cached, err := a.TokenForUser(ctx, apiRead)
	if err != nil || cached.AccessToken != forced.AccessToken || reqs.get("token") != before+1 {
		t.Errorf("after a forced refresh the new token is not the cached one: %v", err)
	}
}

func TestTokenForUserInteractionRequired(t *testing.T) {
	e := entratest.Start(t)
	a, _ := acqWebApp(t, e, nil)
	acqSignIn(t, e, a, entratest.Alice, apiRead)
	alice := acqUserContext(t, e, entratest.Alice)

	t.Run("consent missing", func(t *testing.T) {
		_, err := a.TokenForUser(alice, graphMailRead)
		var ire *InteractionRequiredError
		if !errors.As(err, &ire) {
			t.Fatalf("error %v, want *InteractionRequiredError", err)
		}
		if !slices.Equal(ire.Scopes, graphMailRead) || !strings.Contains(ire.Reason, "consent") || !strings.Contains(ire.Reason, "65001") {
			t.Errorf("scopes %v, reason %q", ire.Scopes, ire.Reason)
		}
		var te *TokenEndpointError
		if !errors.As(err, &te) || te.Code != "invalid_grant" || !te.HasCode(65001) || te.Status != 400 {
			t.Errorf("token endpoint error %+v", te)
		}
		// The consent page grants it: after the trip to the authorize endpoint the token comes.
		acqSignIn(t, e, a, entratest.Alice, ire.Scopes)
		tok, err := a.TokenForUser(alice, graphMailRead)
		if err != nil || acqClaimsOf(t, tok.AccessToken)["scp"] != "Mail.Read User.Read" {
			t.Fatalf("after consent: %v", err)
		}
	})

	t.Run("claims challenge", func(t *testing.T) {
		claims, err := e.RequireClaimsChallenge(entratest.Alice)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.TokenForUser(alice, graphUserRead, WithClaimsChallenge(claims))
		var ire *InteractionRequiredError
		if !errors.As(err, &ire) || ire.Claims != claims || !slices.Equal(ire.Scopes, graphUserRead) {
			t.Fatalf("error %v, want *InteractionRequiredError with the claims", err)
		}
		u := acqAuthorizeURL(t, a, AuthorizeRequest{Scopes: ire.Scopes, Claims: ire.Claims})
		if got := u.Query().Get("claims"); got != claims {
			t.Errorf("the authorize URL asks for claims %q, want %q", got, claims)
		}
	})

	t.Run("not in the cache", func(t *testing.T) {
		_, err := a.TokenForUser(acqUserContext(t, e, entratest.Bob), graphUserRead)
		var ire *InteractionRequiredError
		if !errors.As(err, &ire) || !strings.Contains(ire.Reason, "not in the token cache") {
			t.Fatalf("error %v, want *InteractionRequiredError: not in the cache", err)
		}
	})

	t.Run("refresh token revoked", func(t *testing.T) {
		if err := e.RevokeRefreshTokens(entratest.Alice); err != nil {
			t.Fatal(err)
		}
		_, err := a.TokenForUser(alice, apiRead, WithForceRefresh())
		var ire *InteractionRequiredError
		if !errors.As(err, &ire) || !strings.Contains(ire.Reason, "revoked") || !strings.Contains(ire.Reason, "50173") {
			t.Fatalf("error %v, want *InteractionRequiredError: revoked", err)
		}
	})

	t.Run("no user", func(t *testing.T) {
		if _, err := a.TokenForUser(acqContext(t), graphUserRead); !errors.Is(err, ErrNoUser) {
			t.Errorf("error %v, want ErrNoUser", err)
		}
		noOID := WithClaims(acqContext(t), NewClaims(map[string]any{"name": "x"}, ""))
		if _, err := a.TokenForUser(noOID, graphUserRead); !errors.Is(err, ErrNoUser) {
			t.Errorf("claims without oid: error %v, want ErrNoUser", err)
		}
	})

	t.Run("no resource scope", func(t *testing.T) {
		if _, err := a.TokenForUser(alice, []string{"openid", "profile"}); err == nil || !strings.Contains(err.Error(), "scopes of a resource") {
			t.Errorf("error %v", err)
		}
	})
}

func TestRemoveUserSignsOut(t *testing.T) {
	e := entratest.Start(t)
	a, _ := acqWebApp(t, e, nil)
	red := acqSignIn(t, e, a, entratest.Alice, apiRead)
	ctx := acqUserContext(t, e, entratest.Alice)
	if _, err := a.TokenForUser(ctx, apiRead); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveUser(ctx, red.HomeAccountID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Get(ctx, red.HomeAccountID); err == nil {
		t.Error("the user's partition is still in the store")
	}
	var ire *InteractionRequiredError
	if _, err := a.TokenForUser(ctx, apiRead); !errors.As(err, &ire) {
		t.Errorf("after RemoveUser: %v, want *InteractionRequiredError", err)
	}
	if err := a.RemoveUser(ctx, ""); err == nil {
		t.Error("RemoveUser(\"\") succeeded")
	}
	// Signing in again works.
	acqSignIn(t, e, a, entratest.Alice, apiRead)
	if _, err := a.TokenForUser(ctx, apiRead); err != nil {
		t.Errorf("after signing in again: %v", err)
	}
}

// TestRemoveUserDuringARefresh signs the user out while a refresh for the user is on the wire: its answer
// must not bring the user's tokens back.
func TestRemoveUserDuringARefresh(t *testing.T) {
	e := entratest.Start(t)
	a, _ := acqWebApp(t, e, nil)
	red := acqSignIn(t, e, a, entratest.Alice, apiRead)
	ctx := acqUserContext(t, e, entratest.Alice)
	e.SlowEndpoint(entratest.EndpointToken, 500*time.Millisecond, 0)
	done := make(chan error, 1)
	go func() {
		_, err := a.TokenForUser(ctx, graphUserRead)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := a.RemoveUser(ctx, red.HomeAccountID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the refresh in flight: %v", err)
	}
	e.ClearFaults()
	if _, err := a.store.Get(ctx, red.HomeAccountID); err == nil {
		t.Error("the refresh wrote the signed-out user's partition back")
	}
	var ire *InteractionRequiredError
	for _, s := range [][]string{apiRead, graphUserRead} {
		if _, err := a.TokenForUser(ctx, s); !errors.As(err, &ire) {
			t.Errorf("%v after sign-out: %v, want *InteractionRequiredError", s, err)
		}
	}
}

// TestRemoveUserOnAnotherInstanceDuringARefresh: the same across two instances sharing a store, where the
// signing-out instance's tombstones are not seen by the one refreshing.
func TestRemoveUserOnAnotherInstanceDuringARefresh(t *testing.T) {
	e := entratest.Start(t)
	store, err := tokencache.NewMemory(tokencache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one, _ := acqWebApp(t, e, &AcquirerOptions{Store: store})
	two, _ := acqWebApp(t, e, &AcquirerOptions{Store: store})
	red := acqSignIn(t, e, one, entratest.Alice, apiRead)
	ctx := acqUserContext(t, e, entratest.Alice)
	e.SlowEndpoint(entratest.EndpointToken, 500*time.Millisecond, 0)
	done := make(chan error, 1)
	go func() {
		_, err := two.TokenForUser(ctx, graphUserRead) // a refresh: no Graph token is cached yet
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := one.RemoveUser(ctx, red.HomeAccountID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the refresh in flight on the other instance: %v", err)
	}
	e.ClearFaults()
	if _, err := store.Get(ctx, red.HomeAccountID); err == nil {
		t.Error("the other instance's refresh wrote the signed-out user's partition back")
	}
	var ire *InteractionRequiredError
	for _, a := range []*TokenAcquirer{one, two} {
		if _, err := a.TokenForUser(ctx, graphUserRead); !errors.As(err, &ire) {
			t.Errorf("after sign-out: %v, want *InteractionRequiredError", err)
		}
	}
}

func acqAuthorizeURL(t *testing.T, a *TokenAcquirer, r AuthorizeRequest) *url.URL {
	t.Helper()
	if r.RedirectURI == "" {
		r.RedirectURI = acqRedirect
	}
	if r.State == "" {
		r.State = "state-1"
	}
	if r.CodeChallenge == "" {
		_, r.CodeChallenge = acqPKCE()
	}
	raw, err := a.AuthorizeURL(context.Background(), r)
	if err != nil {
		t.Fatalf("AuthorizeURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSignOutOnAnotherInstance: two instances of a web app share a store; the user signs out through one,
// and the other, which served the user's token from its index a moment before, serves it no more.
func TestSignOutOnAnotherInstance(t *testing.T) {
	e := entratest.Start(t)
	store, err := tokencache.NewMemory(tokencache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	one, _ := acqWebApp(t, e, &AcquirerOptions{Store: store})
	two, twoReqs := acqWebApp(t, e, &AcquirerOptions{Store: store})
	red := acqSignIn(t, e, one, entratest.Alice, apiRead)
	ctx := acqUserContext(t, e, entratest.Alice)
	for range 2 {
		tok, err := two.TokenForUser(ctx, apiRead)
		if err != nil || tok.AccessToken != red.Token.AccessToken || !tok.FromCache || twoReqs.get("token") != 0 {
			t.Fatalf("the other instance: %v, from cache %t", err, tok.FromCache)
		}
	}
	if _, ok := two.index.lookup(red.HomeAccountID, "", scopesKey(apiRead)); !ok {
		t.Fatal("the other instance did not index the token")
	}
	if err := one.RemoveUser(ctx, red.HomeAccountID); err != nil {
		t.Fatal(err)
	}
	var ire *InteractionRequiredError
	if _, err := two.TokenForUser(ctx, apiRead); !errors.As(err, &ire) {
		t.Errorf("the other instance after sign-out: %v, want *InteractionRequiredError", err)
	}
}
