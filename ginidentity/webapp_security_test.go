package ginidentity

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// stateCookie returns the state cookie a sign-in start set, failing the test when there is none.
func stateCookie(t *testing.T, start *page) *http.Cookie {
	t.Helper()
	for name, c := range start.setCookies() {
		if strings.HasPrefix(name, stateCookiePrefix) {
			return c
		}
	}
	t.Fatalf("no state cookie set: %v", start.header.Values("Set-Cookie"))
	return nil
}

func TestCallbackRefusesMissingState(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	start := b.get(ta.base + "/auth/signin")
	resp := b.atIdentityProvider(start, entratest.Alice, "")
	resp.values.Del("state")
	p := b.deliver(resp)
	if p.status != http.StatusBadRequest || p.byID("signin-error") == nil {
		t.Fatalf("callback without state: %d %s", p.status, p.body)
	}
	ta.wantError(errStateMissing)
	if p := b.get(ta.base + "/callback-free"); b.cookie(ta.base, DefaultSessionName) != nil {
		t.Fatalf("a session was started (%d)", p.status)
	}
	// Nor in the query.
	if p := b.get(ta.base + "/signin-oidc?code=abc"); p.status != http.StatusBadRequest {
		t.Fatalf("GET callback without state: %d", p.status)
	}
	ta.wantError(errStateMissing)
}

// A response this browser did not ask for (login CSRF: an attacker's code delivered to the victim) finds
// no state cookie.
func TestCallbackRefusesResponseForAnotherBrowser(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	attacker, victim := newTestBrowser(t, ta.e), newTestBrowser(t, ta.e)
	resp := attacker.atIdentityProvider(attacker.get(ta.base+"/auth/signin"), entratest.Bob, "")
	p := victim.crossSitePost(resp.action, resp.values)
	if !p.hasForm("resubmit") {
		t.Fatalf("want the resubmit page, got %d %s", p.status, p.body)
	}
	if len(p.setCookies()) != 0 {
		t.Fatalf("the resubmit page set cookies: %v", p.header.Values("Set-Cookie"))
	}
	f := p.form("resubmit")
	p = victim.post(f.action, f.values)
	if p.status != http.StatusBadRequest {
		t.Fatalf("delivered to another browser: %d %s", p.status, p.body)
	}
	ta.wantError(errStateUnknown)
	if victim.get(ta.base+"/").body != "anonymous" {
		t.Fatal("the victim was signed in as the attacker")
	}
	// Posting the resubmit marker directly does not loop: it is refused at once.
	resp.values.Set(resubmitField, "1")
	if p := victim.crossSitePost(resp.action, resp.values); p.status != http.StatusBadRequest {
		t.Fatalf("a marked response without its cookie: %d", p.status)
	}
}

// The state cookie of one sign-in cannot vouch for another's response.
func TestCallbackRefusesStateMismatch(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	first := b.get(ta.base + "/auth/signin")
	second := b.get(ta.base + "/auth/signin")
	c1, c2 := stateCookie(t, first), stateCookie(t, second)
	// The first sign-in's sealed state under the second's cookie name.
	cb, _ := url.Parse(ta.base + "/signin-oidc")
	b.jar.SetCookies(cb, []*http.Cookie{{Name: c2.Name, Value: c1.Value, Path: "/signin-oidc"}})
	p := b.deliver(b.atIdentityProvider(second, entratest.Alice, ""))
	if p.status != http.StatusBadRequest {
		t.Fatalf("state mismatch: %d %s", p.status, p.body)
	}
	ta.wantError(errStateMismatch)
}

func TestCallbackRefusesTamperedOrExpiredState(t *testing.T) {
	clock := &testClock{now: time.Now()}
	ta := newTestApp(t, testAppOptions{configure: func(o *WebAppOptions) { o.Now = clock.Now }})
	cb, _ := url.Parse(ta.base + "/signin-oidc")

	b := newTestBrowser(t, ta.e)
	start := b.get(ta.base + "/auth/signin")
	c := stateCookie(t, start)
	if c.MaxAge != int(DefaultSignInFlowLifetime/time.Second) {
		t.Fatalf("state cookie Max-Age = %d", c.MaxAge)
	}
	tampered := []byte(c.Value)
	tampered[len(tampered)/2] ^= 1
	b.jar.SetCookies(cb, []*http.Cookie{{Name: c.Name, Value: string(tampered), Path: "/signin-oidc"}})
	if p := b.deliver(b.atIdentityProvider(start, entratest.Alice, "")); p.status != http.StatusBadRequest {
		t.Fatalf("tampered state cookie: %d", p.status)
	}
	ta.wantError(errStateUnknown)

	// A state cookie kept past the flow's lifetime (a browser that ignores Max-Age) is refused.
	b = newTestBrowser(t, ta.e)
	start = b.get(ta.base + "/auth/signin")
	resp := b.atIdentityProvider(start, entratest.Alice, "")
	clock.Advance(DefaultSignInFlowLifetime + time.Second)
	if p := b.deliver(resp); p.status != http.StatusBadRequest {
		t.Fatalf("expired state: %d", p.status)
	}
	ta.wantError(errStateUnknown)
}

func TestCallbackRefusesReplayedCode(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	resp := b.atIdentityProvider(b.get(ta.base+"/auth/signin"), entratest.Alice, "")
	if p := b.deliver(resp); p.body != "hello Alice Smith" {
		t.Fatalf("sign-in: %d %s", p.status, p.body)
	}
	session := b.cookie(ta.base, DefaultSessionName).Value

	// The same response again, from the same browser: its state cookie was used up.
	replay := url.Values{}
	for k, v := range resp.values {
		replay[k] = v
	}
	replay.Set(resubmitField, "1")
	if p := b.post(resp.action, replay); p.status != http.StatusBadRequest {
		t.Fatalf("replayed response: %d %s", p.status, p.body)
	}
	ta.wantError(errStateUnknown)

	// The old code with the state of a new sign-in: the identity provider refuses it.
	start := b.get(ta.base + "/auth/signin")
	replay.Set("state", start.location().Query().Get("state"))
	replay.Del(resubmitField)
	p := b.deliver(&htmlForm{action: resp.action, values: replay})
	if p.status != http.StatusBadRequest {
		t.Fatalf("replayed code: %d %s", p.status, p.body)
	}
	ta.wantError(ErrSignInFailed)
	if b.cookie(ta.base, DefaultSessionName).Value != session {
		t.Fatal("a refused sign-in replaced the session")
	}
}

func TestCallbackRefusesNonceMismatch(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	start := b.get(ta.base + "/auth/signin")
	// The authorize request's nonce changed on its way: the ID token carries another one.
	auth := start.location()
	q := auth.Query()
	q.Set("nonce", "another-nonce")
	auth.RawQuery = q.Encode()
	p := b.deliver(b.atIdentityProvider(b.get(auth.String()), entratest.Alice, ""))
	if p.status != http.StatusBadRequest {
		t.Fatalf("nonce mismatch: %d %s", p.status, p.body)
	}
	ta.wantError(errIDTokenNonce)
	if b.get(ta.base+"/").body != "anonymous" {
		t.Fatal("signed in despite the nonce")
	}
	// The tokens the refused redemption cached were removed.
	oid := ta.e.Directory().Users[0].ObjectID
	ctx := WithClaims(t.Context(), NewClaims(map[string]any{"oid": oid, "tid": entratest.ContosoTenantID}, ""))
	if _, err := ta.app.TokenAcquirer().TokenForUser(ctx, []string{"User.Read"}); err == nil {
		t.Fatal("the refused sign-in's tokens are still cached")
	}
}

func TestCallbackRefusesWrongResponseMode(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	resp := b.atIdentityProvider(b.get(ta.base+"/auth/signin"), entratest.Alice, "")
	// form_post was asked; the same response in a query (where it would leak through logs and Referer).
	p := b.get(resp.action + "?" + resp.values.Encode())
	if p.status != http.StatusBadRequest {
		t.Fatalf("query response to a form_post sign-in: %d %s", p.status, p.body)
	}
	ta.wantError(errResponseMode)
}

// An ID token issued to another app (a code of another client injected into the sign-in, or a confused
// deputy) is refused: its audience is not this app's client id.
func TestCallbackRefusesIDTokenForAnotherApp(t *testing.T) {
	const otherApp = "99998888-ffff-7777-eeee-666655554444"
	dir := entratest.DefaultDirectory()
	dir.Apps = append(dir.Apps, entratest.App{ClientID: otherApp, DisplayName: "other-webapp", TenantID: entratest.ContosoTenantID,
		ObjectID: "5e7a0000-0000-4000-8000-00000000a099", MultiTenant: true, Secrets: []string{"other-secret"},
		RedirectURIs: []string{"http://localhost/signin-oidc"}, ConsentedScopes: map[string][]string{entratest.GraphResource: {"User.Read"}}})
	e := entratest.Start(t, entratest.WithDirectory(dir))
	// The tokens come from the other app's registration; the web app is sample-webapp.
	other, err := NewTokenAcquirer(&Config{AzureAd: AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
		ClientID: otherApp, ClientSecret: "other-secret"}}, &AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestApp(t, testAppOptions{emulator: e, configure: func(o *WebAppOptions) { o.TokenAcquirer = other }})
	b := newTestBrowser(t, e)
	start := b.get(ta.base + "/auth/signin")
	if got := start.location().Query().Get("client_id"); got != otherApp {
		t.Fatalf("client_id %q", got)
	}
	p := b.deliver(b.atIdentityProvider(start, entratest.Alice, ""))
	if p.status != http.StatusBadRequest {
		t.Fatalf("an ID token for another app: %d %s", p.status, p.body)
	}
	ta.wantError(errIDTokenAudience)
	if b.get(ta.base+"/").body != "anonymous" {
		t.Fatal("signed in with another app's ID token")
	}
}
