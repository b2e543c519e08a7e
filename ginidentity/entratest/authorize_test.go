package entratest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"golang.org/x/net/html"
)

// authorizeURL is the authorize endpoint of the tenant with the sample web app's usual parameters, changed
// by overrides (an empty value removes a parameter).
func authorizeURL(e *entratest.Emulator, tenant string, overrides map[string]string) string {
	q := url.Values{
		"client_id":     {entratest.WebAppClientID},
		"response_type": {"code"},
		"redirect_uri":  {redirectURI},
		"scope":         {"openid profile offline_access User.Read"},
		"state":         {"state-123"},
		"nonce":         {"nonce-456"},
	}
	for k, v := range overrides {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return e.Authority(tenant) + "/oauth2/v2.0/authorize?" + q.Encode()
}

// signInForm fills in and submits the sign-in form of the page.
func (b *browser) signInForm(p *page, user, password string) *page {
	b.t.Helper()
	return b.submit(p.form("signin"), "submit", map[string]string{"username": user, "password": password})
}

// signIn goes through the sign-in form (and the consent page, accepting, when one comes) and returns what
// the redirect URI receives.
func (b *browser) signIn(authorize, user, redirectURI string) url.Values {
	b.t.Helper()
	p := b.get(authorize)
	if p.byID("signin") != nil {
		p = b.signInForm(p, user, entratest.UserPassword)
	}
	if p.byID("consent") != nil {
		p = b.submit(p.form("consent"), "accept", nil)
	}
	return p.response(redirectURI)
}

var aadstsDescription = regexp.MustCompile(`^AADSTS(\d+): `)

// wantError checks an OAuth error sent to the redirect URI: error, error_description starting with the
// AADSTS code, error_uri, and the request's state.
func wantError(t *testing.T, got url.Values, code, aadsts, state string) {
	t.Helper()
	if got.Get("error") != code {
		t.Errorf("error = %q (%s), want %s", got.Get("error"), got.Get("error_description"), code)
	}
	if m := aadstsDescription.FindStringSubmatch(got.Get("error_description")); m == nil || m[1] != aadsts {
		t.Errorf("error_description = %q, want it to start with AADSTS%s: ", got.Get("error_description"), aadsts)
	}
	if !strings.Contains(got.Get("error_uri"), "code="+aadsts) {
		t.Errorf("error_uri = %q", got.Get("error_uri"))
	}
	if got.Get("state") != state {
		t.Errorf("state = %q, want %q", got.Get("state"), state)
	}
	if got.Has("code") {
		t.Errorf("an error response carries a code")
	}
}

// wantErrorPage checks an error shown on the emulator's own page, never sent to a redirect URI.
func wantErrorPage(t *testing.T, p *page, aadsts string) {
	t.Helper()
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
		t.Fatalf("status %d Location %q, want 400 on the emulator's page", p.status, p.header.Get("Location"))
	}
	if got := p.text("error"); !strings.HasPrefix(got, "AADSTS"+aadsts+": ") {
		t.Fatalf("#error = %q, want AADSTS%s", got, aadsts)
	}
}

func TestAuthorizeSignInIssuesCode(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)

	p := b.get(authorizeURL(e, entratest.ContosoTenantID, nil))
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	f := p.form("signin")
	for _, id := range []string{"username", "password", "submit"} {
		if p.byID(id) == nil {
			t.Errorf("sign-in page has no #%s", id)
		}
	}
	if f.action != e.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/authorize" {
		t.Errorf("form posts to %s, want the authorize path itself", f.action)
	}
	if !f.values.Has("username") || !f.values.Has("password") {
		t.Errorf("form fields %v, want username and password", f.values)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if p.header.Get(h) == "" {
			t.Errorf("sign-in page without %s", h)
		}
	}

	p = b.signInForm(p, entratest.Alice, entratest.UserPassword)
	got := p.response(redirectURI)
	if got.Get("code") == "" || got.Get("state") != "state-123" || got.Get("session_state") == "" || got.Has("error") {
		t.Fatalf("response %v, want code, state and session_state", got)
	}

	cookie := sessionCookieOf(t, p)
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteNoneMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v, want HttpOnly, Secure, SameSite=None, Path=/", cookie)
	}
	if cookie.Value == got.Get("session_state") {
		t.Fatal("session_state reveals the session cookie's value")
	}
}

func sessionCookieOf(t *testing.T, p *page) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "ESTSAUTH" {
			return c
		}
	}
	t.Fatalf("no ESTSAUTH cookie set; headers %v", p.header)
	return nil
}

func TestAuthorizeErrorsShownOnTheEmulatorsPage(t *testing.T) {
	t.Parallel()
	d := entratest.DefaultDirectory()
	single := entratest.App{ClientID: "44445555-eeee-6666-ffff-7777aaaa8888", DisplayName: "single-tenant",
		TenantID: entratest.ContosoTenantID, ObjectID: "5e7a0000-0000-4000-8000-00000000a0a5",
		RedirectURIs: []string{redirectURI}}
	d.Apps = append(d.Apps, single)
	e := entratest.Start(t, entratest.WithDirectory(d))

	for _, tc := range []struct {
		name, tenant string
		params       map[string]string
		aadsts       string
	}{
		{"unknown tenant", "nosuch.onmicrosoft.com", nil, "90002"},
		{"consumers", "consumers", nil, "90002"},
		{"no client_id", entratest.ContosoTenantID, map[string]string{"client_id": ""}, "900144"},
		{"unknown client_id", entratest.ContosoTenantID, map[string]string{"client_id": "99999999-0000-0000-0000-000000000000"}, "700016"},
		{"single-tenant app in another tenant", entratest.FabrikamTenantID, map[string]string{"client_id": single.ClientID}, "700016"},
		{"single-tenant app on common", "common", map[string]string{"client_id": single.ClientID}, "50194"},
		{"single-tenant app on organizations", "organizations", map[string]string{"client_id": single.ClientID}, "50194"},
		{"no redirect_uri", entratest.ContosoTenantID, map[string]string{"redirect_uri": ""}, "900144"},
		{"unregistered redirect_uri", entratest.ContosoTenantID, map[string]string{"redirect_uri": "https://evil.example/signin-oidc"}, "50011"},
		{"another loopback host", entratest.ContosoTenantID, map[string]string{"redirect_uri": "http://127.0.0.1:5000/signin-oidc"}, "50011"},
		{"another path", entratest.ContosoTenantID, map[string]string{"redirect_uri": "http://localhost:5000/signin-oidc/x"}, "50011"},
		{"path case differs", entratest.ContosoTenantID, map[string]string{"redirect_uri": "http://localhost:5000/Signin-Oidc"}, "50011"},
		{"https instead of http", entratest.ContosoTenantID, map[string]string{"redirect_uri": "https://localhost:5000/signin-oidc"}, "50011"},
		{"extra query", entratest.ContosoTenantID, map[string]string{"redirect_uri": redirectURI + "?next=/admin"}, "50011"},
		{"userinfo", entratest.ContosoTenantID, map[string]string{"redirect_uri": "http://evil@localhost:5000/signin-oidc"}, "50011"},
		{"fragment", entratest.ContosoTenantID, map[string]string{"redirect_uri": redirectURI + "#x"}, "50011"},
		{"app without redirect URIs", entratest.ContosoTenantID, map[string]string{"client_id": entratest.DaemonClientID}, "50011"},
		// Bad parameters of a request whose redirect URI cannot be trusted stay on the page too.
		{"bad response_type and bad redirect_uri", entratest.ContosoTenantID, map[string]string{"response_type": "token", "redirect_uri": "https://evil.example/"}, "50011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErrorPage(t, newBrowser(t, e).get(authorizeURL(e, tc.tenant, tc.params)), tc.aadsts)
		})
	}
}

func TestAuthorizeErrorsSentToTheRedirectURI(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	for _, tc := range []struct {
		name           string
		params         map[string]string
		error, aadsts  string
		wantNoStateSet bool
	}{
		{"no response_type", map[string]string{"response_type": ""}, "invalid_request", "900144", false},
		{"response_type token", map[string]string{"response_type": "token"}, "unsupported_response_type", "700051", false},
		{"response_type id_token", map[string]string{"response_type": "id_token"}, "unsupported_response_type", "700054", false},
		{"response_type code id_token", map[string]string{"response_type": "code id_token"}, "unsupported_response_type", "700054", false},
		{"response_type unknown", map[string]string{"response_type": "magic"}, "unsupported_response_type", "70005", false},
		{"no scope", map[string]string{"scope": ""}, "invalid_request", "900144", false},
		{"unknown Graph scope", map[string]string{"scope": "openid Files.Read"}, "invalid_scope", "70011", false},
		{"unknown API scope", map[string]string{"scope": "openid " + entratest.WebAPIAppIDURI + "/ToDoList.Delete"}, "invalid_scope", "70011", false},
		{"unknown resource", map[string]string{"scope": "openid api://no-such-api/access"}, "invalid_resource", "500011", false},
		{".default mixed with a dynamic scope", map[string]string{"scope": "openid " + entratest.WebAPIAppIDURI + "/.default " + entratest.WebAPIAppIDURI + "/ToDoList.Read"}, "invalid_scope", "70011", false},
		{"unknown code_challenge_method", map[string]string{"code_challenge": strings.Repeat("a", 43), "code_challenge_method": "S512"}, "invalid_request", "50149", false},
		{"S256 challenge of the wrong size", map[string]string{"code_challenge": strings.Repeat("a", 44), "code_challenge_method": "S256"}, "invalid_request", "501491", false},
		{"S256 challenge not base64url", map[string]string{"code_challenge": strings.Repeat("a", 42) + "=", "code_challenge_method": "S256"}, "invalid_request", "501491", false},
		{"plain challenge too short", map[string]string{"code_challenge": "short"}, "invalid_request", "501491", false},
		{"code_challenge_method without challenge", map[string]string{"code_challenge_method": "S256"}, "invalid_request", "900144", false},
		{"unknown prompt", map[string]string{"prompt": "create"}, "invalid_request", "90023", false},
		{"claims not JSON", map[string]string{"claims": "{not json"}, "invalid_request", "90023", false},
		{"unknown response_mode", map[string]string{"response_mode": "web_message"}, "invalid_request", "90023", false},
		{"no state to echo", map[string]string{"state": "", "response_type": "token"}, "unsupported_response_type", "700051", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBrowser(t, e).get(authorizeURL(e, entratest.ContosoTenantID, tc.params))
			if p.status != http.StatusFound {
				t.Fatalf("status %d, want a redirect to the client:\n%s", p.status, p.body)
			}
			state := "state-123"
			if tc.wantNoStateSet {
				state = ""
			}
			wantError(t, p.response(redirectURI), tc.error, tc.aadsts, state)
		})
	}
}

func TestAuthorizeLoopbackRedirectURIsMatchAnyPort(t *testing.T) {
	t.Parallel()
	d := entratest.DefaultDirectory()
	for i := range d.Apps {
		if d.Apps[i].ClientID == entratest.WebAppClientID {
			d.Apps[i].RedirectURIs = append(d.Apps[i].RedirectURIs, "http://localhost/callback", "http://127.0.0.1:8400/native")
		}
	}
	e := entratest.Start(t, entratest.WithDirectory(d))
	b := newBrowser(t, e)
	for _, uri := range []string{
		"http://localhost:5000/signin-oidc", "http://localhost:6123/signin-oidc", "http://localhost/signin-oidc",
		"http://localhost:53123/callback", "http://127.0.0.1:1234/native", "http://127.0.0.1/native",
	} {
		t.Run(uri, func(t *testing.T) {
			got := b.signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"redirect_uri": uri}), entratest.Alice, uri)
			if got.Get("code") == "" {
				t.Fatalf("no code at %s: %v", uri, got)
			}
		})
	}
	for _, uri := range []string{"http://localhost:53123/native", "http://127.0.0.1:53123/callback", "http://example.com:5000/signin-oidc"} {
		t.Run(uri, func(t *testing.T) {
			wantErrorPage(t, b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"redirect_uri": uri})), "50011")
		})
	}
}

func TestAuthorizeSignInFormRefusals(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	for _, tc := range []struct {
		name, tenant, user, password, aadsts string
	}{
		{"wrong password", entratest.ContosoTenantID, entratest.Alice, "not-the-password", "50126"},
		{"empty password", entratest.ContosoTenantID, entratest.Alice, "", "50126"},
		{"unknown user", entratest.ContosoTenantID, "mallory@contoso.onmicrosoft.com", entratest.UserPassword, "50034"},
		{"object id is not a sign-in name", entratest.ContosoTenantID, "a11ce000-0000-4000-8000-00000000a11c", entratest.UserPassword, "50034"},
		{"user of another tenant", entratest.ContosoTenantID, entratest.Carol, entratest.UserPassword, "50020"},
		{"user of another tenant by domain", entratest.FabrikamDomain, entratest.Alice, entratest.UserPassword, "50020"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e)
			p := b.signInForm(b.get(authorizeURL(e, tc.tenant, nil)), tc.user, tc.password)
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want the form again", p.status, p.header.Get("Location"))
			}
			if got := p.text("error"); !strings.HasPrefix(got, "AADSTS"+tc.aadsts+": ") {
				t.Fatalf("#error = %q, want AADSTS%s", got, tc.aadsts)
			}
			if got := attr(p.byID("username"), "value"); got != tc.user {
				t.Errorf("username not kept: %q", got)
			}
			if got := attr(p.byID("password"), "value"); got != "" {
				t.Errorf("the password is echoed into the page")
			}
			if len((&http.Response{Header: p.header}).Cookies()) > 0 {
				t.Errorf("a refused sign-in set a cookie")
			}
			// The re-shown form still works: the right user signs in and the request goes on.
			right := entratest.Alice
			if tc.tenant == entratest.FabrikamDomain {
				right = entratest.Carol
			}
			if got := b.signInForm(p, right, entratest.UserPassword).response(redirectURI); got.Get("code") == "" || got.Get("state") != "state-123" {
				t.Fatalf("after a retry: %v", got)
			}
		})
	}
}

func TestAuthorizeRefusesEmptyPasswords(t *testing.T) {
	t.Parallel()
	d := entratest.DefaultDirectory()
	d.Users = append(d.Users, entratest.User{ObjectID: "d0d00000-0000-4000-8000-00000000d0d0", TenantID: entratest.ContosoTenantID,
		UserPrincipalName: "nopassword@contoso.onmicrosoft.com", DisplayName: "No Password"})
	e := entratest.Start(t, entratest.WithDirectory(d))
	b := newBrowser(t, e)
	p := b.signInForm(b.get(authorizeURL(e, entratest.ContosoTenantID, nil)), "nopassword@contoso.onmicrosoft.com", "")
	if got := p.text("error"); !strings.HasPrefix(got, "AADSTS50126: ") {
		t.Fatalf("a user without a password signed in with an empty one: #error %q, status %d", got, p.status)
	}
}

func TestAuthorizeFlowsAreSingleUseAndExpire(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := entratest.Start(t, entratest.WithClock(clk.Now))
	b := newBrowser(t, e)

	t.Run("a completed flow cannot be replayed", func(t *testing.T) {
		f := b.get(authorizeURL(e, entratest.ContosoTenantID, nil)).form("signin")
		b.submit(f, "submit", map[string]string{"username": entratest.Alice, "password": entratest.UserPassword}).response(redirectURI)
		wantErrorPage(t, b.submit(f, "submit", map[string]string{"username": entratest.Alice, "password": entratest.UserPassword}), "50089")
	})
	t.Run("an unknown flow", func(t *testing.T) {
		wantErrorPage(t, b.post(e.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/authorize",
			url.Values{"flow": {"forged"}, "username": {entratest.Alice}, "password": {entratest.UserPassword}}), "50089")
	})
	t.Run("an expired flow", func(t *testing.T) {
		f := newBrowser(t, e).get(authorizeURL(e, entratest.ContosoTenantID, nil)).form("signin")
		clk.Advance(16 * time.Minute)
		wantErrorPage(t, b.submit(f, "submit", map[string]string{"username": entratest.Alice, "password": entratest.UserPassword}), "50089")
	})
}

func TestAuthorizeSingleSignOn(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	first := b.signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)

	t.Run("a second sign-in skips the form", func(t *testing.T) {
		p := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"state": "second"}))
		got := p.response(redirectURI)
		if got.Get("code") == "" || got.Get("code") == first.Get("code") || got.Get("state") != "second" {
			t.Fatalf("second sign-in: %v", got)
		}
		if got.Get("session_state") != first.Get("session_state") {
			t.Errorf("session_state changed within one session")
		}
	})
	t.Run("through common", func(t *testing.T) {
		if got := b.get(authorizeURL(e, "common", nil)).response(redirectURI); got.Get("code") == "" {
			t.Fatalf("common: %v", got)
		}
	})
	t.Run("another browser has no session", func(t *testing.T) {
		newBrowser(t, e).get(authorizeURL(e, entratest.ContosoTenantID, nil)).form("signin")
	})
	t.Run("prompt=login forces the form", func(t *testing.T) {
		b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "login"})).form("signin")
	})
	t.Run("login_hint naming another user shows the form, pre-filled", func(t *testing.T) {
		p := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"login_hint": entratest.Bob, "domain_hint": "contoso.onmicrosoft.com"}))
		p.form("signin")
		if got := attr(p.byID("username"), "value"); got != entratest.Bob {
			t.Fatalf("username pre-filled with %q, want %s", got, entratest.Bob)
		}
	})
	t.Run("login_hint naming the signed-in user", func(t *testing.T) {
		if got := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"login_hint": strings.ToUpper(entratest.Alice)})).response(redirectURI); got.Get("code") == "" {
			t.Fatalf("%v", got)
		}
	})
	t.Run("the session does not cross into another tenant", func(t *testing.T) {
		b.get(authorizeURL(e, entratest.FabrikamTenantID, nil)).form("signin")
	})
	t.Run("signing in as someone else replaces the session", func(t *testing.T) {
		emulator, _ := url.Parse(e.URL())
		alices := b.c.Jar.Cookies(emulator)
		p := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "login"}))
		b.signInForm(p, entratest.Bob, entratest.UserPassword).response(redirectURI)
		// alice's session ended with it: her old cookie signs no one in.
		req, _ := http.NewRequest(http.MethodGet, authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "none"}), nil)
		for _, c := range alices {
			req.AddCookie(c)
		}
		if len(alices) != 1 {
			t.Fatalf("cookies before: %v", alices)
		}
		wantError(t, newBrowser(t, e).do(req).response(redirectURI), "login_required", "50058", "state-123")
		p = b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "select_account"}))
		if got := p.text("use-account"); !strings.Contains(got, entratest.Bob) {
			t.Fatalf("account picker shows %q, want bob", got)
		}
	})
}

func TestAuthorizePromptNone(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	silent := func(overrides map[string]string) url.Values {
		if overrides == nil {
			overrides = map[string]string{}
		}
		overrides["prompt"] = "none"
		p := b.get(authorizeURL(e, entratest.ContosoTenantID, overrides))
		if p.status != http.StatusFound {
			t.Fatalf("prompt=none showed a page (status %d):\n%s", p.status, p.body)
		}
		return p.response(redirectURI)
	}

	wantError(t, silent(nil), "login_required", "50058", "state-123")
	b.signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)
	if got := silent(nil); got.Get("code") == "" {
		t.Fatalf("prompt=none with a session: %v", got)
	}
	wantError(t, silent(map[string]string{"scope": "openid Mail.Read"}), "consent_required", "65001", "state-123")
	wantError(t, silent(map[string]string{"login_hint": entratest.Bob}), "login_required", "50058", "state-123")
}

func TestAuthorizePromptSelectAccount(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	selectAccount := authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "select_account"})

	b.get(selectAccount).form("signin") // no session: the form
	b.signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)

	p := b.get(selectAccount)
	if got := p.text("use-account"); !strings.Contains(got, entratest.Alice) {
		t.Fatalf("account picker shows %q", got)
	}
	if got := b.submit(p.form("pick"), "use-account", nil).response(redirectURI); got.Get("code") == "" {
		t.Fatalf("picking the account: %v", got)
	}
	// The session ended elsewhere (sign-out in another tab) between the picker and the click: the form.
	picker := b.get(selectAccount).form("pick")
	b.get(e.Authority(entratest.ContosoTenantID) + "/oauth2/v2.0/logout")
	b.submit(picker, "use-account", nil).form("signin")

	b.signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)
	p = b.submit(b.get(selectAccount).form("pick"), "other-account", nil)
	if got := b.signInForm(p, entratest.Bob, entratest.UserPassword).response(redirectURI); got.Get("code") == "" {
		t.Fatalf("another account: %v", got)
	}
}

func TestAuthorizeConsent(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	mail := authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid profile offline_access Mail.Read"})

	// Mail.Read is not consented for anyone: the consent page comes after the form.
	p := b.signInForm(b.get(mail), entratest.Alice, entratest.UserPassword)
	if !strings.Contains(p.text("permissions"), "Microsoft Graph: Mail.Read") {
		t.Fatalf("consent page lists %q", p.text("permissions"))
	}
	for _, id := range []string{"accept", "cancel"} {
		if p.byID(id) == nil {
			t.Fatalf("consent page has no #%s", id)
		}
	}
	got := b.submit(p.form("consent"), "cancel", nil).response(redirectURI)
	wantError(t, got, "access_denied", "65004", "state-123")
	if got.Get("error_subcode") != "cancel" {
		t.Errorf("error_subcode = %q, want cancel", got.Get("error_subcode"))
	}

	// Declining recorded nothing: the next request asks again (SSO skips the form); Accept records it.
	p = b.get(mail)
	if got := b.submit(p.form("consent"), "accept", nil).response(redirectURI); got.Get("code") == "" {
		t.Fatalf("after Accept: %v", got)
	}
	if got := b.get(mail).response(redirectURI); got.Get("code") == "" {
		t.Fatalf("consented scope asked again: %v", got)
	}
	// prompt=consent shows the page even when everything is consented.
	p = b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"prompt": "consent"}))
	if !strings.Contains(p.text("permissions"), "Microsoft Graph: User.Read") {
		t.Fatalf("prompt=consent page lists %q", p.text("permissions"))
	}
	// The web API's ToDoList.ReadWrite needs consent too; ToDoList.Read and /.default do not.
	b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid " + entratest.WebAPIAppIDURI + "/ToDoList.ReadWrite"})).form("consent")
	for _, scope := range []string{entratest.WebAPIAppIDURI + "/ToDoList.Read", entratest.WebAPIClientID + "/ToDoList.Read", entratest.WebAPIAppIDURI + "/.default", "https://graph.microsoft.com/User.Read"} {
		if got := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid " + scope})).response(redirectURI); got.Get("code") == "" {
			t.Fatalf("%s: %v", scope, got)
		}
	}
	// Consent is the user's own: bob is asked for Mail.Read although alice consented.
	bob := newBrowser(t, e)
	bob.signInForm(bob.get(mail), entratest.Bob, entratest.UserPassword).form("consent")
}

func TestAuthorizeAnswersMustFollowThePages(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	f := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid Mail.Read"})).form("signin")
	// Accepting consent from the sign-in page (skipping the credentials) is refused.
	wantErrorPage(t, b.post(f.action, url.Values{"flow": f.values["flow"], "consent": {"accept"}}), "90023")
	// The refusal consumed the flow: even the right answer now starts over.
	wantErrorPage(t, b.submit(f, "submit", map[string]string{"username": entratest.Alice, "password": entratest.UserPassword}), "50089")
}

func TestAuthorizeResponseModes(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)

	t.Run("form_post", func(t *testing.T) {
		p := b.signInForm(b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"response_mode": "form_post"})), entratest.Alice, entratest.UserPassword)
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		f := p.form("response")
		if f.method != http.MethodPost || f.action != redirectURI || f.values.Get("code") == "" || f.values.Get("state") != "state-123" {
			t.Fatalf("form_post form: %+v", f)
		}
		// The page submits itself with an inline script that its CSP allows by nonce.
		csp := p.header.Get("Content-Security-Policy")
		var script string
		walk(p.doc, func(n *html.Node) bool {
			if n.Data == "script" {
				script = attr(n, "nonce")
			}
			return true
		})
		if script == "" || !strings.Contains(csp, "'nonce-"+script+"'") {
			t.Fatalf("script nonce %q not allowed by CSP %q", script, csp)
		}
	})
	t.Run("form_post error", func(t *testing.T) {
		p := newBrowser(t, e).get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"response_mode": "form_post", "prompt": "none"}))
		wantError(t, p.response(redirectURI), "login_required", "50058", "state-123")
	})
	t.Run("fragment", func(t *testing.T) {
		p := b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"response_mode": "fragment"}))
		if loc := p.header.Get("Location"); !strings.HasPrefix(loc, redirectURI+"#") {
			t.Fatalf("Location %q, want the fragment", loc)
		}
		if got := p.response(redirectURI); got.Get("code") == "" {
			t.Fatalf("%v", got)
		}
	})
	t.Run("query keeps the redirect URI's own query", func(t *testing.T) {
		d := entratest.DefaultDirectory()
		for i := range d.Apps {
			if d.Apps[i].ClientID == entratest.WebAppClientID {
				d.Apps[i].RedirectURIs = append(d.Apps[i].RedirectURIs, "https://app.example/cb?tenant=x")
			}
		}
		e := entratest.Start(t, entratest.WithDirectory(d))
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"redirect_uri": "https://app.example/cb?tenant=x"}), entratest.Alice, "https://app.example/cb?")
		if got.Get("tenant") != "x" || got.Get("code") == "" {
			t.Fatalf("%v", got)
		}
	})
}

func TestAuthorizeByPOST(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	b := newBrowser(t, e)
	u, _ := url.Parse(authorizeURL(e, entratest.ContosoTenantID, nil))
	p := b.post(e.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/authorize", u.Query())
	if got := b.signInForm(p, entratest.Alice, entratest.UserPassword).response(redirectURI); got.Get("code") == "" {
		t.Fatalf("%v", got)
	}
}

func TestAuthorizeMultiTenant(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	for _, tc := range []struct{ tenant, user string }{
		{"common", entratest.Carol},
		{"organizations", entratest.Carol},
		{"common", entratest.Alice},
		{entratest.FabrikamTenantID, entratest.Carol},
		{entratest.FabrikamDomain, entratest.Carol},
		{entratest.ContosoDomain, entratest.Bob},
	} {
		t.Run(tc.tenant+"/"+tc.user, func(t *testing.T) {
			got := newBrowser(t, e).signIn(authorizeURL(e, tc.tenant, nil), tc.user, redirectURI)
			if got.Get("code") == "" {
				t.Fatalf("%v", got)
			}
		})
	}
}

// redeem redeems a code the web app got through the authorize endpoint.
func redeem(t *testing.T, e *entratest.Emulator, tenant, code, verifier, scope string) (int, map[string]any) {
	t.Helper()
	form := codeForm(code, verifier)
	form.Set("scope", scope)
	if verifier == "" {
		form.Del("code_verifier")
	}
	return postToken(t, e, tenant, form)
}

func TestAuthorizeCodesRedeemAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := entratest.Start(t, entratest.WithClock(clk.Now))
	v := newVerifier(t, e, clk)
	const verifier = "a-verifier-of-enough-length-for-rfc-7636-0123456789"
	s256 := map[string]string{"code_challenge": pkcePair(verifier), "code_challenge_method": "S256"}

	t.Run("S256, nonce, sid and auth_time", func(t *testing.T) {
		b := newBrowser(t, e)
		got := b.signIn(authorizeURL(e, entratest.ContosoTenantID, s256), entratest.Alice, redirectURI)
		body := mustToken(t, e, entratest.ContosoTenantID, codeForm(got.Get("code"), verifier))
		id := v.verify(t, body["id_token"].(string), entratest.WebAppClientID, issuerV2(e, entratest.ContosoTenantID))
		if id["nonce"] != "nonce-456" || id["preferred_username"] != entratest.Alice || id["sid"] != got.Get("session_state") {
			t.Fatalf("ID token claims %v, want nonce-456, alice, sid = session_state %s", id, got.Get("session_state"))
		}
		// A second, silent sign-in keeps the session's auth_time and sid.
		clk.Advance(time.Minute)
		again := b.get(authorizeURL(e, entratest.ContosoTenantID, s256)).response(redirectURI)
		body = mustToken(t, e, entratest.ContosoTenantID, codeForm(again.Get("code"), verifier))
		id2 := v.verify(t, body["id_token"].(string), entratest.WebAppClientID, issuerV2(e, entratest.ContosoTenantID))
		if id2["auth_time"] != id["auth_time"] || id2["sid"] != id["sid"] {
			t.Fatalf("SSO sign-in: auth_time %v sid %v, want %v %v", id2["auth_time"], id2["sid"], id["auth_time"], id["sid"])
		}
	})
	t.Run("S256 with the wrong verifier", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, s256), entratest.Alice, redirectURI)
		status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), verifier+"x", "openid")
		if status != http.StatusBadRequest || codeOf(body) != 501481 {
			t.Fatalf("status %d body %v, want AADSTS501481", status, body)
		}
	})
	t.Run("S256 without a verifier", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, s256), entratest.Alice, redirectURI)
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid"); status != http.StatusBadRequest {
			t.Fatalf("status %d body %v, want a refusal", status, body)
		}
	})
	t.Run("code_challenge_method defaults to plain", func(t *testing.T) {
		b := newBrowser(t, e)
		got := b.signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"code_challenge": verifier}), entratest.Alice, redirectURI)
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), pkcePair(verifier), "openid"); status != http.StatusBadRequest {
			t.Fatalf("the S256 transform of a plain challenge was accepted: %d %v", status, body)
		}
		got = b.get(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"code_challenge": verifier})).response(redirectURI)
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), verifier, "openid"); status != http.StatusOK {
			t.Fatalf("plain verifier: %d %v", status, body)
		}
	})
	t.Run("single use", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid"); status != http.StatusOK {
			t.Fatalf("first redemption: %d %v", status, body)
		}
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid"); status != http.StatusBadRequest || codeOf(body) != 54005 {
			t.Fatalf("replay: %d %v, want AADSTS54005", status, body)
		}
	})
	t.Run("expires after ten minutes", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, nil), entratest.Alice, redirectURI)
		clk.Advance(10*time.Minute + time.Second)
		if status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid"); status != http.StatusBadRequest || codeOf(body) != 70008 {
			t.Fatalf("expired code: %d %v, want AADSTS70008", status, body)
		}
	})
	t.Run("common: the user's home tenant", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, "organizations", nil), entratest.Carol, redirectURI)
		body := mustToken(t, e, "organizations", codeForm(got.Get("code"), ""))
		id := v.verify(t, body["id_token"].(string), entratest.WebAppClientID, issuerV2(e, entratest.FabrikamTenantID))
		if id["tid"] != entratest.FabrikamTenantID {
			t.Fatalf("tid %v", id["tid"])
		}
	})
	t.Run("consent given on the page reaches the token", func(t *testing.T) {
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid offline_access Mail.Read"}), entratest.Bob, redirectURI)
		status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid Mail.Read")
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, body)
		}
		at := v.verify(t, body["access_token"].(string), entratest.GraphResource, issuerV1(entratest.ContosoTenantID))
		if scp, _ := at["scp"].(string); !slices.Contains(strings.Fields(scp), "Mail.Read") {
			t.Fatalf("scp %q lacks the consented Mail.Read", scp)
		}
	})
	t.Run("claims kept on the code", func(t *testing.T) {
		claims := `{"access_token":{"xms_cc":{"values":["cp1"]}}}`
		got := newBrowser(t, e).signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"claims": claims}), entratest.Alice, redirectURI)
		status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "User.Read openid")
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, body)
		}
		at := v.verify(t, body["access_token"].(string), entratest.GraphResource, issuerV1(entratest.ContosoTenantID))
		if xms, _ := at["xms_cc"].([]any); len(xms) != 1 || xms[0] != "cp1" {
			t.Fatalf("xms_cc = %v, want the code's claims to reach the token", at["xms_cc"])
		}
	})
}
