package entratest_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// These tests prove that MSAL Go, the real library, gets tokens from the emulator by every flow, and that
// every token it gets validates against the emulator's JWKS with the claims Entra would put in it.

func msalClient(t *testing.T, e *entratest.Emulator, tenant, clientID string, cred confidential.Credential, opts ...confidential.Option) confidential.Client {
	t.Helper()
	opts = append([]confidential.Option{confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.HTTPClient())}, opts...)
	app, err := confidential.New(e.Authority(tenant), clientID, cred, opts...)
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	return app
}

func secretCred(t *testing.T, secret string) confidential.Credential {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func msalContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hasRole(c map[string]any, role string) bool {
	roles, _ := c["roles"].([]any)
	return slices.Contains(roles, any(role))
}

func TestMSALClientCredentials(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	ctx := msalContext(t)

	t.Run("secret", func(t *testing.T) {
		app := msalClient(t, e, entratest.ContosoTenantID, entratest.DaemonClientID, secretCred(t, entratest.DaemonSecret))
		res, err := app.AcquireTokenByCredential(ctx, []string{entratest.WebAPIAppIDURI + "/.default"})
		if err != nil {
			t.Fatalf("AcquireTokenByCredential: %v", err)
		}
		c := v.verify(t, res.AccessToken, entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
		if !hasRole(c, "ToDoList.Read.All") || hasRole(c, "ToDoList.ReadWrite.All") || c["azpacr"] != "1" || c["tid"] != entratest.ContosoTenantID || c["idtyp"] != "app" {
			t.Errorf("claims %v", c)
		}
		again, err := app.AcquireTokenByCredential(ctx, []string{entratest.WebAPIAppIDURI + "/.default"})
		if err != nil || again.AccessToken != res.AccessToken {
			t.Errorf("the second call did not come from MSAL's cache: %v", err)
		}
	})

	t.Run("certificate", func(t *testing.T) {
		cert := newClientCert(t, time.Now().Add(24*time.Hour))
		if err := e.AddClientCertificate(entratest.DaemonClientID, cert.pem); err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(cert.der)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := confidential.NewCredFromCert([]*x509.Certificate{x}, cert.key)
		if err != nil {
			t.Fatal(err)
		}
		app := msalClient(t, e, entratest.ContosoDomain, entratest.DaemonClientID, cred)
		res, err := app.AcquireTokenByCredential(ctx, []string{"https://graph.microsoft.com/.default"})
		if err != nil {
			t.Fatalf("AcquireTokenByCredential with a certificate: %v", err)
		}
		c := v.verify(t, res.AccessToken, "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
		if !hasRole(c, "User.Read.All") || c["appidacr"] != "2" || c["appid"] != entratest.DaemonClientID {
			t.Errorf("claims %v", c)
		}

		unregistered := newClientCert(t, time.Now().Add(24*time.Hour))
		ux, _ := x509.ParseCertificate(unregistered.der)
		badCred, _ := confidential.NewCredFromCert([]*x509.Certificate{ux}, unregistered.key)
		bad := msalClient(t, e, entratest.ContosoTenantID, entratest.DaemonClientID, badCred)
		if _, err := bad.AcquireTokenByCredential(ctx, []string{"https://graph.microsoft.com/.default"}); err == nil {
			t.Error("an unregistered certificate got a token")
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		app := msalClient(t, e, entratest.ContosoTenantID, entratest.DaemonClientID, secretCred(t, "wrong"))
		if _, err := app.AcquireTokenByCredential(ctx, []string{entratest.WebAPIAppIDURI + "/.default"}); err == nil {
			t.Error("a wrong secret got a token")
		}
	})
}

// TestMSALAuthCodeSilentAndOnBehalfOf redeems a code with PKCE (the code as the authorize endpoint stores it
// after sign-in), gets a token for another resource silently through the refresh token, and lets the web API
// exchange the user's token for a Graph token on behalf of the user.
func TestMSALAuthCodeSilentAndOnBehalfOf(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	ctx := msalContext(t)
	webapp := msalClient(t, e, "organizations", entratest.WebAppClientID, secretCred(t, entratest.WebAppSecret))
	apiScope := []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"}

	res, err := webapp.AcquireTokenByAuthCode(ctx, aliceCode(e), redirectURI, apiScope, confidential.WithChallenge(testVerifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	c := v.verify(t, res.AccessToken, entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
	if c["scp"] != "ToDoList.Read" || c["preferred_username"] != entratest.Alice || c["azp"] != entratest.WebAppClientID {
		t.Errorf("claims %v", c)
	}
	if res.Account.HomeAccountID != "a11ce000-0000-4000-8000-00000000a11c."+entratest.ContosoTenantID || res.IDToken.Name != "Alice Smith" {
		t.Errorf("account %+v, ID token %+v", res.Account, res.IDToken)
	}

	cached, err := webapp.AcquireTokenSilent(ctx, apiScope, confidential.WithSilentAccount(res.Account))
	if err != nil || cached.AccessToken != res.AccessToken || cached.Metadata.TokenSource != confidential.TokenSourceCache {
		t.Errorf("silent call for the same scope: err %v, source %v", err, cached.Metadata.TokenSource)
	}
	graph, err := webapp.AcquireTokenSilent(ctx, []string{"https://graph.microsoft.com/User.Read"}, confidential.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("AcquireTokenSilent for Graph (refresh token across resources): %v", err)
	}
	gc := v.verify(t, graph.AccessToken, "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if gc["scp"] != "User.Read" || gc["upn"] != entratest.Alice {
		t.Errorf("Graph claims %v", gc)
	}
	if _, err := webapp.AcquireTokenSilent(ctx, []string{"https://graph.microsoft.com/Mail.Read"}, confidential.WithSilentAccount(res.Account)); err == nil {
		t.Error("a silent call for a scope alice never consented to succeeded")
	}

	webapi := msalClient(t, e, entratest.ContosoTenantID, entratest.WebAPIClientID, secretCred(t, entratest.WebAPISecret))
	obo, err := webapi.AcquireTokenOnBehalfOf(ctx, res.AccessToken, []string{"https://graph.microsoft.com/User.Read"})
	if err != nil {
		t.Fatalf("AcquireTokenOnBehalfOf: %v", err)
	}
	oc := v.verify(t, obo.AccessToken, "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if oc["scp"] != "User.Read" || oc["appid"] != entratest.WebAPIClientID || oc["oid"] != c["oid"] {
		t.Errorf("on-behalf-of claims %v", oc)
	}
	graphToken := graph.AccessToken
	if _, err := webapi.AcquireTokenOnBehalfOf(ctx, graphToken, []string{"https://graph.microsoft.com/User.Read"}); err == nil {
		t.Error("the web API exchanged a token issued for Graph (another audience)")
	}

	// A claims challenge: the web API, declaring cp1, asks again with the claims Graph demanded.
	claims, err := e.RequireClaimsChallenge(entratest.Alice)
	if err != nil {
		t.Fatal(err)
	}
	capable := msalClient(t, e, entratest.ContosoTenantID, entratest.WebAPIClientID, secretCred(t, entratest.WebAPISecret),
		confidential.WithClientCapabilities([]string{"cp1"}))
	again, err := capable.AcquireTokenOnBehalfOf(ctx, res.AccessToken, []string{"https://graph.microsoft.com/User.Read"}, confidential.WithClaims(claims))
	if err != nil {
		t.Fatalf("AcquireTokenOnBehalfOf with claims: %v", err)
	}
	if _, pending := e.PendingClaims(entratest.Alice); pending {
		t.Error("the token request with the demanded claims left the challenge pending")
	}
	if xc := v.verify(t, again.AccessToken, "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID)); xc["xms_cc"] == nil {
		t.Errorf("no xms_cc for a client declaring cp1: %v", xc)
	}

	// After revocation the refresh token MSAL holds is refused: a silent call for a newly consented scope,
	// which MSAL must get with the refresh token, fails with AADSTS50173.
	e.GrantTestConsent(entratest.Alice, entratest.WebAppClientID, entratest.GraphAppID, "Mail.Read")
	if err := e.RevokeRefreshTokens(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	_, err = webapp.AcquireTokenSilent(ctx, []string{"https://graph.microsoft.com/Mail.Read"}, confidential.WithSilentAccount(res.Account))
	if err == nil || !strings.Contains(err.Error(), "AADSTS50173") {
		t.Errorf("silent call with a revoked refresh token: %v, want AADSTS50173", err)
	}
}

// TestMSALManagedIdentity gets a token through MSAL's App Service managed identity source. It sets process
// environment variables, so it does not run in parallel.
func TestMSALManagedIdentity(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	t.Setenv("IDENTITY_ENDPOINT", e.ManagedIdentityEndpoint())
	t.Setenv("IDENTITY_HEADER", e.IdentityHeader())
	if src, err := managedidentity.GetSource(); err != nil || src != managedidentity.AppService {
		t.Fatalf("MSAL detects %v (%v), want AppService", src, err)
	}
	for name, id := range map[string]managedidentity.ID{
		"system-assigned":            managedidentity.SystemAssigned(),
		"user-assigned by client id": managedidentity.UserAssignedClientID(entratest.ManagedIdentityClientID),
	} {
		t.Run(name, func(t *testing.T) {
			mi, err := managedidentity.New(id, managedidentity.WithHTTPClient(e.HTTPClient()))
			if err != nil {
				t.Fatal(err)
			}
			// MSAL's managed identity cache is process-wide; claims make it ask the endpoint, so a token from
			// another test's emulator is never served here.
			res, err := mi.AcquireToken(msalContext(t), entratest.WebAPIAppIDURI, managedidentity.WithClaims(`{"access_token":{"nbf":{"essential":true,"value":"1"}}}`))
			if err != nil {
				t.Fatalf("AcquireToken: %v", err)
			}
			c := v.verify(t, res.AccessToken, entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
			if !hasRole(c, "ToDoList.Read.All") || c["azp"] != entratest.ManagedIdentityClientID || c["idtyp"] != "app" {
				t.Errorf("claims %v", c)
			}
			if time.Until(res.ExpiresOn) < time.Hour {
				t.Errorf("ExpiresOn %v: expires_on was not understood", res.ExpiresOn)
			}
		})
	}
	t.Setenv("IDENTITY_HEADER", "wrong")
	mi, err := managedidentity.New(managedidentity.SystemAssigned(), managedidentity.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mi.AcquireToken(msalContext(t), "https://storage.azure.com", managedidentity.WithClaims(`{}`)); err == nil {
		t.Error("a wrong IDENTITY_HEADER got a token")
	}
}

// TestMSALSignInThenOnBehalfOfThenGraph is the chain the samples run: the web app signs alice in through the
// sign-in form with MSAL (auth code + PKCE) for the web API, the web API exchanges her token on behalf of her
// for Microsoft Graph with MSAL, and Graph serves /me with it; after a claims challenge, the web API asks
// again with the claims Graph demanded and Graph serves it again.
func TestMSALSignInThenOnBehalfOfThenGraph(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	ctx := msalContext(t)
	webapp := msalClient(t, e, entratest.ContosoTenantID, entratest.WebAppClientID, secretCred(t, entratest.WebAppSecret))
	apiScopes := []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"}
	authURL, err := webapp.AuthCodeURL(ctx, entratest.WebAppClientID, redirectURI, apiScopes)
	if err != nil {
		t.Fatal(err)
	}
	const pkce = "chain-pkce-verifier-0123456789-0123456789-0123456789"
	got := newBrowser(t, e).signIn(authURL+"&"+url.Values{"state": {"s"}, "nonce": {"n"}, "code_challenge": {pkcePair(pkce)},
		"code_challenge_method": {"S256"}}.Encode(), entratest.Alice, redirectURI)
	signedIn, err := webapp.AcquireTokenByAuthCode(ctx, got.Get("code"), redirectURI, apiScopes, confidential.WithChallenge(pkce))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	if c := v.verify(t, signedIn.AccessToken, entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID)); c["scp"] != "ToDoList.Read" {
		t.Fatalf("web API token claims %v", c)
	}

	webapi := msalClient(t, e, entratest.ContosoTenantID, entratest.WebAPIClientID, secretCred(t, entratest.WebAPISecret),
		confidential.WithClientCapabilities([]string{"cp1"}))
	graphScopes := []string{"https://graph.microsoft.com/User.Read"}
	obo, err := webapi.AcquireTokenOnBehalfOf(ctx, signedIn.AccessToken, graphScopes)
	if err != nil {
		t.Fatalf("AcquireTokenOnBehalfOf: %v", err)
	}
	if g := graphGet(t, e, "/me", obo.AccessToken); g.status != http.StatusOK || g.body["userPrincipalName"] != entratest.Alice {
		t.Fatalf("Graph /me with the on-behalf-of token: %d %v", g.status, g.body)
	}

	if _, err := e.RequireClaimsChallenge(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	g := graphGet(t, e, "/me", obo.AccessToken)
	challenge := g.header.Get("WWW-Authenticate")
	if g.status != http.StatusUnauthorized || !strings.Contains(challenge, `error="insufficient_claims"`) {
		t.Fatalf("Graph during a claims challenge: %d %q", g.status, challenge)
	}
	_, encoded, _ := strings.Cut(challenge, `claims="`)
	encoded, _, _ = strings.Cut(encoded, `"`)
	claims, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("claims of the challenge %q: %v", encoded, err)
	}
	fresh, err := webapi.AcquireTokenOnBehalfOf(ctx, signedIn.AccessToken, graphScopes, confidential.WithClaims(string(claims)))
	if err != nil {
		t.Fatalf("AcquireTokenOnBehalfOf with the claims: %v", err)
	}
	if g := graphGet(t, e, "/me", fresh.AccessToken); g.status != http.StatusOK {
		t.Fatalf("Graph /me after answering the challenge: %d %v", g.status, g.body)
	}
}
