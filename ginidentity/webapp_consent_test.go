package ginidentity

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

func TestIncrementalConsent(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	b.signIn(b.get(ta.base+"/profile"), entratest.Alice, "")

	// A script is told which scopes to ask for, and where.
	p := b.get(ta.base+"/mail?folder=inbox", "Accept", "application/json")
	if p.status != http.StatusUnauthorized {
		t.Fatalf("/mail for a script: %d %s", p.status, p.body)
	}
	www := p.header.Get("WWW-Authenticate")
	if !strings.Contains(www, `error="interaction_required"`) || !strings.Contains(www, `scope="`+mailReadScope+`"`) {
		t.Fatalf("WWW-Authenticate = %q", www)
	}
	var body struct {
		Error     string   `json:"error"`
		SignInURL string   `json:"signInUrl"`
		Scopes    []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(p.body), &body); err != nil || body.Error != "interaction_required" ||
		len(body.Scopes) != 1 || body.Scopes[0] != mailReadScope || !strings.HasPrefix(body.SignInURL, "/auth/signin?") ||
		!strings.Contains(body.SignInURL, "scope=https%3A%2F%2Fgraph.microsoft.com%2FMail.Read") ||
		!strings.Contains(body.SignInURL, "returnUrl=%2Fmail%3Ffolder%3Dinbox") {
		t.Fatalf("body = %s (%v)", p.body, err)
	}

	// A browser is sent to the authorize endpoint for the scope, hinting the signed-in user.
	start := b.get(ta.base + "/mail?folder=inbox")
	if start.status != http.StatusFound {
		t.Fatalf("/mail: %d %s", start.status, start.body)
	}
	q := start.location().Query()
	if !strings.Contains(" "+q.Get("scope")+" ", " "+mailReadScope+" ") || q.Get("login_hint") != entratest.Alice {
		t.Fatalf("authorize URL %s", start.location())
	}
	// Cancelling consent fails the sign-in, and the session survives.
	cancelled := b.deliver(b.atIdentityProvider(start, entratest.Alice, "cancel"))
	if cancelled.status != http.StatusForbidden || cancelled.byID("signin-error") == nil {
		t.Fatalf("consent cancelled: %d %s", cancelled.status, cancelled.body)
	}
	ta.wantError(ErrSignInFailed)
	if p := b.get(ta.base + "/"); p.body != "hello Alice Smith" {
		t.Fatalf("/ after a cancelled consent = %q", p.body)
	}

	// Accepting brings the user back to the page, which now gets its token.
	p = b.signIn(b.get(ta.base+"/mail?folder=inbox"), entratest.Alice, "accept")
	if p.url.RequestURI() != "/mail?folder=inbox" || p.status != http.StatusOK || !strings.HasPrefix(p.body, "messages: ") || p.body == "messages: 0" {
		t.Fatalf("after consent: %d at %s: %s", p.status, p.url, p.body)
	}
	// Consent is remembered: no trip to the identity provider any more.
	if p := b.get(ta.base + "/mail"); p.status != http.StatusOK {
		t.Fatalf("/mail again: %d %s", p.status, p.header.Get("Location"))
	}
}

func TestChallengeHelper(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)

	// Nobody signed in: ErrNoUser sends to sign in.
	p := b.get(ta.base + "/challenge")
	if p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), ta.e.URL()) {
		t.Fatalf("/challenge anonymous: %d %s", p.status, p.body)
	}
	b.signIn(b.get(ta.base+"/profile"), entratest.Bob, "")

	// Signed in, consent missing: the helper asks for it.
	p = b.get(ta.base + "/challenge")
	if p.status != http.StatusFound || !strings.Contains(p.location().Query().Get("scope"), mailReadScope) {
		t.Fatalf("/challenge: %d %s", p.status, p.header.Get("Location"))
	}
	p = b.signIn(p, entratest.Bob, "accept")
	if p.url.Path != "/challenge" || p.body != "token: true" {
		t.Fatalf("after consent: %d at %s: %s", p.status, p.url, p.body)
	}

	// Revoked sessions and refresh tokens: the cached access token serves until it expires, but a new one
	// needs the user to sign in again.
	if err := ta.e.RevokeRefreshTokens(entratest.Bob); err != nil {
		t.Fatal(err)
	}
	if p := b.get(ta.base + "/challenge"); p.body != "token: true" {
		t.Fatalf("/challenge with a cached token: %d %s", p.status, p.body)
	}
	p = b.get(ta.base+"/challenge?force=1", "Accept", "application/json")
	if p.status != http.StatusUnauthorized || !strings.Contains(p.header.Get("WWW-Authenticate"), mailReadScope) {
		t.Fatalf("/challenge after revocation, as a script: %d %s", p.status, p.body)
	}
	p = b.get(ta.base + "/challenge?force=1")
	if p.status != http.StatusFound {
		t.Fatalf("/challenge after revocation: %d %s", p.status, p.body)
	}
	p = b.deliver(b.atIdentityProvider(p, entratest.Bob, ""))
	if p.url.Path != "/challenge" || p.body != "token: true" {
		t.Fatalf("after signing in again: %d at %s: %s", p.status, p.url, p.body)
	}
}

func TestChallengeCarriesClaims(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	b := newTestBrowser(t, ta.e)
	b.signIn(b.get(ta.base+"/profile"), entratest.Alice, "")
	claims := `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	ta.route("/claims", func(c *gin.Context) {
		Challenge(c, &InteractionRequiredError{Scopes: []string{mailReadScope}, Claims: claims, Reason: "a claims challenge"})
	})

	p := b.get(ta.base + "/claims")
	if q := p.location().Query(); p.status != http.StatusFound || q.Get("claims") != claims || !strings.Contains(q.Get("scope"), mailReadScope) {
		t.Fatalf("authorize URL %s", p.location())
	}
	p = b.get(ta.base+"/claims", "Accept", "application/json")
	www := p.header.Get("WWW-Authenticate")
	if p.status != http.StatusUnauthorized || !strings.Contains(www, `claims="`+base64.StdEncoding.EncodeToString([]byte(claims))+`"`) {
		t.Fatalf("script challenge: %d %q", p.status, www)
	}
	var body struct{ SignInURL string }
	_ = json.Unmarshal([]byte(p.body), &body)
	if !strings.Contains(body.SignInURL, "claims="+url.QueryEscape(claims)) {
		t.Fatalf("sign-in URL %q lacks the claims", body.SignInURL)
	}
	// The sign-in URL carries them to the authorize endpoint.
	if q := b.get(ta.base + body.SignInURL).location().Query(); q.Get("claims") != claims {
		t.Fatalf("sign-in URL led to %v", q)
	}
}
