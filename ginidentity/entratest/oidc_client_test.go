package entratest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"golang.org/x/oauth2"
)

// TestOAuth2AndGoOIDCSignIn signs alice in with an independent client, golang.org/x/oauth2 with go-oidc:
// authorize form, code, token, and go-oidc's verification of the ID token and its nonce.
func TestOAuth2AndGoOIDCSignIn(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	ctx := oidc.ClientContext(context.Background(), e.HTTPClient())
	ctx = context.WithValue(ctx, oauth2.HTTPClient, e.HTTPClient())

	provider, err := oidc.NewProvider(ctx, issuerV2(e, entratest.ContosoTenantID))
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	cfg := oauth2.Config{
		ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess, "User.Read"},
	}
	pkce := oauth2.GenerateVerifier()
	const state, nonce = "oidc-state-1", "oidc-nonce-1"
	got := newBrowser(t, e).signIn(cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), entratest.Alice, redirectURI)
	if got.Get("state") != state {
		t.Fatalf("state %q", got.Get("state"))
	}

	tok, err := cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: entratest.WebAppClientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
		TenantID          string `json:"tid"`
		Email             string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce || claims.PreferredUsername != entratest.Alice || claims.TenantID != entratest.ContosoTenantID || claims.Email != entratest.Alice {
		t.Fatalf("ID token nonce %q claims %+v", idt.Nonce, claims)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: entratest.WebAPIClientID}).Verify(ctx, rawID); err == nil {
		t.Fatal("go-oidc accepted the ID token for another client: the check is not exercised")
	}

	// The access token calls Graph, and the refresh token renews it.
	resp, err := cfg.Client(ctx, tok).Get(e.GraphURL() + "/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), entratest.Alice) {
		t.Fatalf("Graph /me: %d %s", resp.StatusCode, body)
	}
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	renewed, err := cfg.TokenSource(ctx, &stale).Token()
	if err != nil || renewed.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v (same token: %v)", err, renewed != nil && renewed.AccessToken == tok.AccessToken)
	}

	// A wrong PKCE verifier is refused with Entra's error.
	got = newBrowser(t, e).signIn(cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), entratest.Alice, redirectURI)
	_, err = cfg.Exchange(ctx, got.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.HasPrefix(re.ErrorDescription, "AADSTS501481:") {
		t.Fatalf("wrong verifier: %v", err)
	}
}

// TestGoOIDCMultiTenantSignIn signs carol (fabrikam) in through organizations: discovery names the issuer
// template, so the client checks the issuer against the token's tid itself, as multi-tenant apps must.
func TestGoOIDCMultiTenantSignIn(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	template := e.URL() + "/{tenantid}/v2.0"
	ctx := oidc.InsecureIssuerURLContext(oidc.ClientContext(context.Background(), e.HTTPClient()), template)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, e.HTTPClient())
	provider, err := oidc.NewProvider(ctx, e.Authority("organizations")+"/v2.0")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := oauth2.Config{ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	got := newBrowser(t, e).signIn(cfg.AuthCodeURL("s", oidc.Nonce("n")), entratest.Carol, redirectURI)
	tok, err := cfg.Exchange(ctx, got.Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: entratest.WebAppClientID, SkipIssuerCheck: true}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		TenantID string `json:"tid"`
	}
	_ = idt.Claims(&c)
	if c.TenantID != entratest.FabrikamTenantID || idt.Issuer != strings.Replace(template, "{tenantid}", c.TenantID, 1) {
		t.Fatalf("tid %q issuer %q", c.TenantID, idt.Issuer)
	}
}

// TestMSALAuthCodeWithPKCE signs alice in with MSAL Go's confidential client: MSAL builds the authorize URL
// (state, nonce and PKCE appended by hand, which MSAL cannot do), the form is driven, and
// AcquireTokenByAuthCode redeems the code with the verifier.
func TestMSALAuthCodeWithPKCE(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	ctx := context.Background()
	cred, err := confidential.NewCredFromSecret(entratest.WebAppSecret)
	if err != nil {
		t.Fatal(err)
	}
	client, err := confidential.New(e.Authority(entratest.ContosoTenantID), entratest.WebAppClientID, cred,
		confidential.WithHTTPClient(e.HTTPClient()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	v := newVerifier(t, e, nil)

	signIn := func(scopes []string, pkce, nonce string) confidential.AuthResult {
		t.Helper()
		u, err := client.AuthCodeURL(ctx, entratest.WebAppClientID, redirectURI, scopes)
		if err != nil {
			t.Fatalf("AuthCodeURL: %v", err)
		}
		extra := url.Values{"state": {"msal-state"}, "nonce": {nonce}, "code_challenge": {pkcePair(pkce)}, "code_challenge_method": {"S256"}}
		got := b.signIn(u+"&"+extra.Encode(), entratest.Alice, redirectURI)
		if got.Get("state") != "msal-state" {
			t.Fatalf("state %q", got.Get("state"))
		}
		res, err := client.AcquireTokenByAuthCode(ctx, got.Get("code"), redirectURI, scopes, confidential.WithChallenge(pkce))
		if err != nil {
			t.Fatalf("AcquireTokenByAuthCode: %v", err)
		}
		return res
	}

	const pkce = "msal-pkce-verifier-0123456789-0123456789-0123456789"
	res := signIn([]string{"User.Read"}, pkce, "msal-nonce")
	id := v.verify(t, res.IDToken.RawToken, entratest.WebAppClientID, issuerV2(e, entratest.ContosoTenantID))
	if id["nonce"] != "msal-nonce" || res.IDToken.PreferredUsername != entratest.Alice {
		t.Fatalf("ID token nonce %v user %q", id["nonce"], res.IDToken.PreferredUsername)
	}
	if want := aliceOID + "." + entratest.ContosoTenantID; res.Account.HomeAccountID != want {
		t.Fatalf("home account id %q, want %q", res.Account.HomeAccountID, want)
	}
	if g := graphGet(t, e, "/me", res.AccessToken); g.status != http.StatusOK {
		t.Fatalf("Graph /me with MSAL's token: %d %v", g.status, g.body)
	}
	silent, err := client.AcquireTokenSilent(ctx, []string{"User.Read"}, confidential.WithSilentAccount(res.Account))
	if err != nil || silent.AccessToken != res.AccessToken {
		t.Fatalf("silent: %v", err)
	}

	// Incremental consent: Mail.Read goes through the consent page (accepted by signIn), then Graph serves mail.
	mail := signIn([]string{"Mail.Read"}, pkce+"-2", "msal-nonce-2")
	if g := graphGet(t, e, "/me/messages", mail.AccessToken); g.status != http.StatusOK {
		t.Fatalf("Graph /me/messages: %d %v", g.status, g.body)
	}

	// The wrong verifier fails with Entra's code.
	u, _ := client.AuthCodeURL(ctx, entratest.WebAppClientID, redirectURI, []string{"User.Read"})
	got := b.get(u + "&" + url.Values{"code_challenge": {pkcePair(pkce)}, "code_challenge_method": {"S256"}}.Encode()).response(redirectURI)
	if _, err := client.AcquireTokenByAuthCode(ctx, got.Get("code"), redirectURI, []string{"User.Read"}, confidential.WithChallenge(pkce+"x")); err == nil || !strings.Contains(err.Error(), "AADSTS501481") {
		t.Fatalf("wrong verifier: %v", err)
	}
}
