package ginidentity

import (
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// Sign-in: the authorize URL MSAL Go cannot build alone, and the redemption of its code.

func TestAuthorizeURL(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	cfg := acqConfig(e, "organizations", entratest.WebAppClientID, entratest.WebAppSecret)
	cfg.AzureAd.ClientCapabilities = []string{"cp1"}
	cfg.AzureAd.ExtraQueryParameters = map[string]string{"slice": "testslice"}
	a := acqNew(t, cfg, &AcquirerOptions{HTTPClient: hc})

	u := acqAuthorizeURL(t, a, AuthorizeRequest{Scopes: []string{"https://graph.microsoft.com/User.Read", "openid"}, State: "st",
		Nonce: "no", CodeChallenge: "ch", Prompt: "select_account", LoginHint: "alice@contoso.onmicrosoft.com",
		DomainHint: "contoso.com", Extra: url.Values{"x-app": {"1"}}})
	if got := u.Scheme + "://" + u.Host + u.Path; got != e.Authority("organizations")+"/oauth2/v2.0/authorize" {
		t.Errorf("endpoint %s", got)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id": entratest.WebAppClientID, "redirect_uri": acqRedirect, "response_type": "code",
		"scope": "openid profile offline_access https://graph.microsoft.com/User.Read", "state": "st", "nonce": "no",
		"code_challenge": "ch", "code_challenge_method": "S256", "response_mode": "form_post", "prompt": "select_account",
		"login_hint": "alice@contoso.onmicrosoft.com", "domain_hint": "contoso.com", "slice": "testslice", "x-app": "1",
		"claims": `{"access_token":{"xms_cc":{"values":["cp1"]}}}`,
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q := acqAuthorizeURL(t, a, AuthorizeRequest{ResponseMode: "query"}).Query(); q.Get("response_mode") != "query" || q.Has("nonce") || q.Has("prompt") {
		t.Errorf("query mode: %v", q)
	}

	for _, c := range []struct {
		name string
		r    AuthorizeRequest
		want string
	}{
		{"no redirect URI", AuthorizeRequest{State: "s", CodeChallenge: "c"}, "RedirectURI"},
		{"relative redirect URI", AuthorizeRequest{RedirectURI: "/signin-oidc", State: "s", CodeChallenge: "c"}, "RedirectURI"},
		{"no state", AuthorizeRequest{RedirectURI: acqRedirect, CodeChallenge: "c"}, "State is required"},
		{"no PKCE", AuthorizeRequest{RedirectURI: acqRedirect, State: "s"}, "CodeChallenge is required"},
		{"fragment", AuthorizeRequest{RedirectURI: acqRedirect, State: "s", CodeChallenge: "c", ResponseMode: "fragment"}, "use form_post or query"},
		{"prompt", AuthorizeRequest{RedirectURI: acqRedirect, State: "s", CodeChallenge: "c", Prompt: "always"}, "Prompt"},
		{"extra overrides state", AuthorizeRequest{RedirectURI: acqRedirect, State: "s", CodeChallenge: "c", Extra: url.Values{"State": {"x"}}}, `sets "State"`},
		{"claims not JSON", AuthorizeRequest{RedirectURI: acqRedirect, State: "s", CodeChallenge: "c", Claims: "{nope"}, "not a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := a.AuthorizeURL(acqContext(t), c.r); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestRedeemCodeFailures(t *testing.T) {
	e := entratest.Start(t)
	a, _ := acqWebApp(t, e, nil)
	ctx := acqContext(t)
	if _, err := a.RedeemCode(ctx, RedeemRequest{}); err == nil || !strings.Contains(err.Error(), "RedeemRequest.Code, RedeemRequest.RedirectURI, RedeemRequest.CodeVerifier is required") {
		t.Errorf("empty request: %v", err)
	}
	code := func() (string, string) {
		verifier, challenge := acqPKCE()
		state := rand.Text()
		u := acqAuthorizeURL(t, a, AuthorizeRequest{Scopes: apiRead, State: state, CodeChallenge: challenge, ResponseMode: "query"})
		return acqBrowse(t, e, u.String(), entratest.Alice, state), verifier
	}
	for _, c := range []struct {
		name   string
		mutate func(*RedeemRequest)
		aadsts int
	}{
		{"wrong verifier", func(r *RedeemRequest) { r.CodeVerifier = "not-the-verifier-not-the-verifier-not-the-verifier" }, 501481},
		{"another redirect URI", func(r *RedeemRequest) { r.RedirectURI = "http://localhost:5000/other" }, 50011},
	} {
		t.Run(c.name, func(t *testing.T) {
			cd, verifier := code()
			r := RedeemRequest{Code: cd, RedirectURI: acqRedirect, Scopes: apiRead, CodeVerifier: verifier}
			c.mutate(&r)
			_, err := a.RedeemCode(ctx, r)
			var te *TokenEndpointError
			var ire *InteractionRequiredError
			if !errors.As(err, &te) || !te.HasCode(c.aadsts) || errors.As(err, &ire) {
				t.Errorf("error %v, want the token endpoint's AADSTS%d", err, c.aadsts)
			}
		})
	}
	t.Run("replayed code", func(t *testing.T) {
		cd, verifier := code()
		r := RedeemRequest{Code: cd, RedirectURI: acqRedirect, Scopes: apiRead, CodeVerifier: verifier}
		if _, err := a.RedeemCode(ctx, r); err != nil {
			t.Fatal(err)
		}
		var te *TokenEndpointError
		if _, err := a.RedeemCode(ctx, r); !errors.As(err, &te) || !te.HasCode(54005) {
			t.Errorf("replay: %v, want AADSTS54005", err)
		}
	})
}
