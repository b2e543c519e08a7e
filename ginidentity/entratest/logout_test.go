package entratest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

const signedOutURI = "http://localhost:5000/signout-callback-oidc"

func logoutURL(e *entratest.Emulator, tenant string, params url.Values) string {
	return e.Authority(tenant) + "/oauth2/v2.0/logout?" + params.Encode()
}

// idTokenHint signs an ID token for the web app as the emulator's token endpoint would, expired or not.
func idTokenHint(t *testing.T, e *entratest.Emulator, aud string, expired bool) string {
	t.Helper()
	now := time.Now()
	if expired {
		now = now.Add(-3 * time.Hour)
	}
	tok, err := e.IssueToken(map[string]any{"aud": aud, "iss": e.URL() + "/" + entratest.ContosoTenantID + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "tid": entratest.ContosoTenantID,
		"preferred_username": entratest.Alice, "ver": "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	other := entratest.Start(t) // its keys are not e's: its tokens are forgeries to e

	for _, tc := range []struct {
		name         string
		tenant       string
		params       url.Values
		post         bool
		wantLocation string // "" for the signed-out page
	}{
		{name: "client_id and a registered URI", tenant: entratest.ContosoTenantID,
			params:       url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {signedOutURI}, "state": {"st-1"}},
			wantLocation: signedOutURI + "?state=st-1"},
		{name: "by POST", tenant: "common", post: true,
			params:       url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {signedOutURI}},
			wantLocation: signedOutURI},
		{name: "id_token_hint names the app", tenant: "common",
			params:       url.Values{"id_token_hint": {idTokenHint(t, e, entratest.WebAppClientID, false)}, "post_logout_redirect_uri": {signedOutURI}, "state": {"st-2"}},
			wantLocation: signedOutURI + "?state=st-2"},
		{name: "an expired id_token_hint still names the app", tenant: entratest.ContosoDomain,
			params:       url.Values{"id_token_hint": {idTokenHint(t, e, entratest.WebAppClientID, true)}, "post_logout_redirect_uri": {signedOutURI}},
			wantLocation: signedOutURI},
		{name: "loopback URI on another port", tenant: entratest.ContosoTenantID,
			params:       url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {"http://localhost:7000/signout-callback-oidc"}},
			wantLocation: "http://localhost:7000/signout-callback-oidc"},
		{name: "unregistered URI", tenant: entratest.ContosoTenantID,
			params: url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"st"}}},
		{name: "the sign-in redirect URI is not a sign-out URI", tenant: entratest.ContosoTenantID,
			params: url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {redirectURI}}},
		{name: "no app to check the URI against", tenant: entratest.ContosoTenantID,
			params: url.Values{"post_logout_redirect_uri": {signedOutURI}}},
		{name: "unknown client_id", tenant: entratest.ContosoTenantID,
			params: url.Values{"client_id": {"99999999-0000-0000-0000-000000000000"}, "post_logout_redirect_uri": {signedOutURI}}},
		{name: "forged id_token_hint", tenant: entratest.ContosoTenantID,
			params: url.Values{"id_token_hint": {idTokenHint(t, other, entratest.WebAppClientID, false)}, "post_logout_redirect_uri": {signedOutURI}}},
		{name: "malformed id_token_hint", tenant: entratest.ContosoTenantID,
			params: url.Values{"id_token_hint": {"not.a.token"}, "post_logout_redirect_uri": {signedOutURI}}},
		{name: "id_token_hint of another app", tenant: entratest.ContosoTenantID,
			params: url.Values{"id_token_hint": {idTokenHint(t, e, entratest.WebAPIClientID, false)}, "post_logout_redirect_uri": {signedOutURI}}},
		{name: "no post_logout_redirect_uri", tenant: entratest.ContosoTenantID,
			params: url.Values{"client_id": {entratest.WebAppClientID}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e)
			b.signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)
			var p *page
			if tc.post {
				p = b.post(e.Authority(tc.tenant)+"/oauth2/v2.0/logout", tc.params)
			} else {
				p = b.get(logoutURL(e, tc.tenant, tc.params))
			}
			if tc.wantLocation != "" {
				if p.status != http.StatusFound || p.header.Get("Location") != tc.wantLocation {
					t.Fatalf("status %d Location %q, want a redirect to %s", p.status, p.header.Get("Location"), tc.wantLocation)
				}
			} else {
				if p.status != http.StatusOK || p.header.Get("Location") != "" || p.byID("signed-out") == nil {
					t.Fatalf("status %d Location %q, want the signed-out page:\n%s", p.status, p.header.Get("Location"), p.body)
				}
				if tc.params.Has("post_logout_redirect_uri") && p.byID("not-redirected") == nil {
					t.Errorf("the page does not say why it did not redirect")
				}
			}
			// Whatever the redirect, the session is over: the cookie is cleared and the next sign-in asks again.
			if c := sessionCookieOf(t, p); c.MaxAge >= 0 || c.Value != "" {
				t.Errorf("session cookie not cleared: %+v", c)
			}
			b.get(authorizeURL(e, entratest.ContosoTenantID, nil)).form("signin")
		})
	}
}

func TestLogoutEndsTheSessionServerSide(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	p := b.get(authorizeURL(e, entratest.ContosoTenantID, nil))
	p = b.signInForm(p, entratest.Alice, entratest.UserPassword)
	stolen := sessionCookieOf(t, p)

	b.get(logoutURL(e, entratest.ContosoTenantID, url.Values{}))
	// A copy of the cookie taken before sign-out no longer signs anyone in.
	replay := newBrowser(t, e)
	req, _ := http.NewRequest(http.MethodGet, authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "none"}), nil)
	req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
	wantError(t, replay.do(req).response(redirectURI), "login_required", "50058", "state-123")
}

func TestLogoutUnknownTenant(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	p := newBrowser(t, e).get(logoutURL(e, "nosuch.onmicrosoft.com", url.Values{"client_id": {entratest.WebAppClientID}, "post_logout_redirect_uri": {signedOutURI}}))
	wantErrorPage(t, p, "90002")
	if strings.Contains(p.body, signedOutURI) {
		t.Error("the error page links to the redirect URI")
	}
}
