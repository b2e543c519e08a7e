package ginidentity

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

func TestSignInAndSignOut(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)

	if p := b.get(ta.base + "/"); p.body != "anonymous" {
		t.Fatalf("/ before sign-in = %q", p.body)
	}
	start := b.get(ta.base + "/profile?tab=1")
	if start.status != http.StatusFound {
		t.Fatalf("/profile answered %d, want a redirect to sign in", start.status)
	}
	auth := start.location()
	q := auth.Query()
	if !strings.HasPrefix(auth.String(), ta.e.Authority("organizations")+"/oauth2/v2.0/authorize?") ||
		q.Get("redirect_uri") != ta.base+"/signin-oidc" || q.Get("response_mode") != "form_post" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		q.Get("state") == "" || q.Get("nonce") == "" || q.Get("client_id") != entratest.WebAppClientID {
		t.Fatalf("authorize URL %s", auth)
	}

	p := b.signIn(start, entratest.Alice, "")
	if p.url.Path != "/profile" || p.url.RawQuery != "tab=1" || p.status != http.StatusOK {
		t.Fatalf("after sign-in: %d at %s:\n%s", p.status, p.url, p.body)
	}
	var profile map[string]any
	if err := json.Unmarshal([]byte(p.body), &profile); err != nil {
		t.Fatal(err)
	}
	if profile["name"] != "Alice Smith" || profile["preferred_username"] != entratest.Alice || profile["tid"] != entratest.ContosoTenantID ||
		profile["home"] != profile["oid"].(string)+"."+entratest.ContosoTenantID || profile["raw"] != "" || profile["same"] != true {
		t.Fatalf("profile = %v", profile)
	}
	if p := b.get(ta.base + "/"); p.body != "hello Alice Smith" {
		t.Fatalf("/ after sign-in = %q", p.body)
	}

	out := b.get(ta.base + "/auth/signout?returnUrl=/goodbye")
	if out.status != http.StatusFound {
		t.Fatalf("sign-out answered %d", out.status)
	}
	logout := out.location()
	lq := logout.Query()
	if logout.Path != "/organizations/oauth2/v2.0/logout" || lq.Get("post_logout_redirect_uri") != ta.base+"/signout-callback-oidc" ||
		lq.Get("client_id") != entratest.WebAppClientID || lq.Get("state") == "" {
		t.Fatalf("logout URL %s", logout)
	}
	if c := out.setCookies()[DefaultSessionName]; c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out did not delete the session cookie: %v", out.header.Values("Set-Cookie"))
	}
	back := b.get(logout.String())
	if back.status != http.StatusFound || !strings.HasPrefix(back.location().String(), ta.base+"/signout-callback-oidc?") {
		t.Fatalf("the end-session endpoint answered %d to %s", back.status, back.header.Get("Location"))
	}
	home := b.get(back.location().String())
	if home.status != http.StatusFound || home.location().Path != "/goodbye" {
		t.Fatalf("the signed-out callback answered %d to %s", home.status, home.header.Get("Location"))
	}
	if p := b.get(ta.base + "/"); p.body != "anonymous" {
		t.Fatalf("/ after sign-out = %q", p.body)
	}
	// Signed out at the identity provider too: its form shows again.
	again := b.follow(b.get(ta.base + "/profile"))
	if !again.hasForm("signin") {
		t.Fatalf("/profile after sign-out did not reach the sign-in form:\n%s", again.body)
	}
	// The user's tokens left the cache.
	ctx := WithClaims(t.Context(), NewClaims(map[string]any{"oid": profile["oid"], "tid": profile["tid"]}, ""))
	if _, err := ta.app.TokenAcquirer().TokenForUser(ctx, []string{"User.Read"}); err == nil {
		t.Fatal("TokenForUser after sign-out succeeded: the user's tokens are still cached")
	}
}

func TestSignInQueryResponseMode(t *testing.T) {
	ta := newTestApp(t, testAppOptions{tenant: entratest.ContosoTenantID, configure: func(o *WebAppOptions) {
		o.ResponseMode = ResponseModeQuery
	}})
	b := newTestBrowser(t, ta.e)
	start := b.get(ta.base + "/auth/signin?returnUrl=%2Fprofile")
	if q := start.location().Query(); q.Get("response_mode") != "query" {
		t.Fatalf("authorize URL %s", start.location())
	}
	p := b.follow(start)
	f := p.form("signin")
	p = b.post(f.action, f.fill("submit", "username", entratest.Bob, "password", entratest.UserPassword))
	if p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), ta.base+"/signin-oidc?") {
		t.Fatalf("want a redirect to the callback, got %d %s", p.status, p.header.Get("Location"))
	}
	p = b.follow(p)
	if p.url.Path != "/profile" || !strings.Contains(p.body, `"name":"Bob Jones"`) {
		t.Fatalf("after sign-in: %d at %s: %s", p.status, p.url, p.body)
	}
}

func TestRequireSignInScripts(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	tests := []struct {
		name   string
		header []string
		script bool
	}{
		{"page", []string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Sec-Fetch-Mode", "navigate"}, false},
		{"curl", []string{"Accept", "*/*"}, false},
		{"fetch", []string{"Accept", "*/*", "Sec-Fetch-Mode", "cors"}, true},
		{"same-origin fetch", []string{"Accept", "*/*", "Sec-Fetch-Mode", "same-origin"}, true},
		{"xhr", []string{"Accept", "text/html", "X-Requested-With", "XMLHttpRequest"}, true},
		{"json", []string{"Accept", "application/json"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get(ta.base+"/profile?x=1", tt.header...)
			if !tt.script {
				if p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), ta.e.URL()) {
					t.Fatalf("want a redirect to the identity provider, got %d %s", p.status, p.header.Get("Location"))
				}
				return
			}
			if p.status != http.StatusUnauthorized || p.header.Get("Location") != "" {
				t.Fatalf("want 401, got %d", p.status)
			}
			var body struct {
				Error     string `json:"error"`
				SignInURL string `json:"signInUrl"`
			}
			if err := json.Unmarshal([]byte(p.body), &body); err != nil {
				t.Fatalf("body %q: %v", p.body, err)
			}
			if body.Error != "login_required" || body.SignInURL != "/auth/signin?returnUrl=%2Fprofile%3Fx%3D1" {
				t.Fatalf("body = %+v", body)
			}
			if www := p.header.Get("WWW-Authenticate"); !strings.Contains(www, `error="login_required"`) || !strings.Contains(www, body.SignInURL) {
				t.Fatalf("WWW-Authenticate = %q", www)
			}
			if len(p.setCookies()) != 0 {
				t.Fatalf("a 401 set cookies: %v", p.header.Values("Set-Cookie"))
			}
		})
	}
	// The sign-in URL given to scripts leads back to the page.
	p := b.signIn(b.get(ta.base+"/auth/signin?returnUrl=%2Fprofile%3Fx%3D1"), entratest.Alice, "")
	if p.url.RequestURI() != "/profile?x=1" || p.status != http.StatusOK {
		t.Fatalf("after sign-in: %d at %s", p.status, p.url)
	}
}

func TestSignInReturnURLRefused(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	for _, evil := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", "/%2F%2Fevil.example"} {
		t.Run(evil, func(t *testing.T) {
			start := b.get(ta.base + "/auth/signin?returnUrl=" + url.QueryEscape(evil))
			p := b.deliver(b.atIdentityProvider(start, entratest.Alice, ""))
			if p.url.Host != strings.TrimPrefix(ta.base, "http://") || p.url.Path != "/" {
				t.Fatalf("after sign-in with returnUrl %q: at %s", evil, p.url)
			}
			out := b.get(ta.base + "/auth/signout?returnUrl=" + url.QueryEscape(evil))
			back := b.get(b.get(out.location().String()).location().String())
			if loc := back.location(); loc.Host != strings.TrimPrefix(ta.base, "http://") || loc.Path != "/" {
				t.Fatalf("after sign-out with returnUrl %q: redirected to %s", evil, loc)
			}
		})
	}
}
