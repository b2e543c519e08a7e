package gindownstream

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/internal/kittest"
)

// The helpers the downstream packages' tests share.
var (
	testContext   = kittest.Context
	acquirer      = kittest.Acquirer
	callerContext = kittest.CallerContext
)

// These tests run the real TokenAcquirer against the emulator and its Microsoft Graph.

// countingClient trusts the emulator and counts the requests to its Graph.
func countingClient(e *entratest.Emulator) (*http.Client, *atomic.Int32) {
	hc := e.HTTPClient()
	n := &atomic.Int32{}
	next := hc.Transport
	hc.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			n.Add(1)
		}
		return next.RoundTrip(r)
	})
	return hc, n
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func graphAPIs(e *entratest.Emulator) map[string]ginidentity.DownstreamAPIOptions {
	return map[string]ginidentity.DownstreamAPIOptions{
		"Graph":    {BaseURL: e.GraphURL(), RelativePath: "me", Scopes: []string{"User.Read"}},
		"GraphApp": {BaseURL: e.GraphURL(), RelativePath: "users", Scopes: []string{"https://graph.microsoft.com/.default"}},
	}
}

type graphUser struct {
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// A web API calls Graph on behalf of its caller; a claims challenge from Graph is answered once, and the
// token that satisfies it serves the next calls.
func TestOnBehalfOfTheCaller(t *testing.T) {
	e := entratest.Start(t)
	hc, graphCalls := countingClient(e)
	c, err := New(&ginidentity.Config{DownstreamApis: graphAPIs(e)},
		acquirer(t, e, "organizations", entratest.WebAPIClientID, entratest.WebAPISecret), &Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	alice := callerContext(t, e, entratest.Alice)
	var me graphUser
	if err := c.GetForUser(alice, "Graph", &me); err != nil || me.DisplayName != "Alice Smith" {
		t.Fatalf("%v %+v", err, me)
	}

	if _, err := e.RequireClaimsChallenge(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	graphCalls.Store(0)
	me = graphUser{}
	if err := c.GetForUser(alice, "Graph", &me); err != nil || me.DisplayName != "Alice Smith" {
		t.Fatalf("after the claims challenge: %v %+v", err, me)
	}
	if n := graphCalls.Load(); n != 2 {
		t.Fatalf("%d calls to Graph, want the challenged one and its retry", n)
	}
	graphCalls.Store(0)
	if err := c.GetForUser(alice, "Graph", &me); err != nil || graphCalls.Load() != 1 {
		t.Fatalf("the next call: %v after %d calls", err, graphCalls.Load())
	}

	// Carol, of fabrikam, through the same multi-tenant API.
	if err := c.GetForUser(callerContext(t, e, entratest.Carol), "Graph", &me); err != nil || me.DisplayName != "Carol Lee" {
		t.Fatalf("carol: %v %+v", err, me)
	}
	// A scope nobody consented to: the caller must consent, which the error says.
	err = c.GetForUser(alice, "Graph", nil, WithScopes("Mail.Read"))
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "Mail.Read") {
		t.Fatalf("%v, want an InteractionRequiredError naming Mail.Read", err)
	}
}

// A daemon calls Graph as itself.
func TestForTheApp(t *testing.T) {
	e := entratest.Start(t)
	c, err := New(&ginidentity.Config{DownstreamApis: graphAPIs(e)},
		acquirer(t, e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret), &Options{HTTPClient: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	var users struct{ Value []graphUser }
	if err := c.GetForApp(testContext(t), "GraphApp", &users); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users.Value {
		names = append(names, u.DisplayName)
	}
	if strings.Join(names, ",") != "Alice Smith,Bob Jones" {
		t.Fatalf("users %q", names)
	}
	// /me needs a user: Graph's 400 or 403 comes back as an *APIError with its body.
	err = c.GetForApp(testContext(t), "GraphApp", nil, WithRelativePath("me"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode < 400 || len(ae.Body) == 0 {
		t.Fatalf("%v", err)
	}
}

// A web app's signed-in user: the token comes from the user's cache; a claims challenge needs the user to
// sign in again, and the error carries the claims to ask for.
func TestSignedInUser(t *testing.T) {
	e := entratest.Start(t)
	a := acquirer(t, e, entratest.ContosoTenantID, entratest.WebAppClientID, entratest.WebAppSecret)
	c, err := New(&ginidentity.Config{DownstreamApis: graphAPIs(e)}, a, &Options{HTTPClient: e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	user := signIn(t, e, a, entratest.Alice, []string{"User.Read"})

	// Before the sign-in's tokens exist for a user, the user must sign in: an InteractionRequiredError.
	bob := ginidentity.WithClaims(testContext(t), ginidentity.NewClaims(map[string]any{"oid": "b0b00000-0000-4000-8000-000000000b0b",
		"tid": entratest.ContosoTenantID}, ""))
	var ie *ginidentity.InteractionRequiredError
	if err := c.GetForUser(bob, "Graph", nil); !errors.As(err, &ie) {
		t.Fatalf("bob, never signed in: %v", err)
	}

	var me graphUser
	if err := c.GetForUser(user, "Graph", &me); err != nil || me.DisplayName != "Alice Smith" {
		t.Fatalf("%v %+v", err, me)
	}
	claims, err := e.RequireClaimsChallenge(entratest.Alice)
	if err != nil {
		t.Fatal(err)
	}
	err = c.GetForUser(user, "Graph", &me)
	if !errors.As(err, &ie) || ie.Claims != claims {
		t.Fatalf("%v, want an InteractionRequiredError with the claims %s", err, claims)
	}
}

var (
	flowInput  = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form id="(?:signin|consent)" method="post" action="([^"]+)"`)
)

// signIn signs the user in to the sample web app through the emulator's form, as a browser does, redeems the
// code, and returns the context a signed-in request carries (the user's oid and tid, no raw token).
func signIn(t *testing.T, e *entratest.Emulator, a *ginidentity.TokenAcquirer, user string, scopes []string) context.Context {
	t.Helper()
	ctx := testContext(t)
	const redirect = "http://localhost:5000/signin-oidc"
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	authURL, err := a.AuthorizeURL(ctx, ginidentity.AuthorizeRequest{RedirectURI: redirect, Scopes: scopes, State: "s",
		CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), ResponseMode: "query"})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := e.HTTPClient()
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(authURL)
	var code string
	for step := 0; err == nil && step < 3 && code == ""; step++ {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" {
			u, _ := url.Parse(loc)
			code = u.Query().Get("code")
			break
		}
		flow, action := flowInput.FindSubmatch(body), formAction.FindSubmatch(body)
		if flow == nil || action == nil {
			t.Fatalf("unexpected page %d: %.300s", resp.StatusCode, body)
		}
		form := url.Values{"flow": {string(flow[1])}, "username": {user}, "password": {entratest.UserPassword}, "consent": {"accept"}}
		resp, err = browser.PostForm(e.URL()+strings.ReplaceAll(string(action[1]), "&amp;", "&"), form)
	}
	if err != nil || code == "" {
		t.Fatalf("no code: %v", err)
	}
	red, err := a.RedeemCode(ctx, ginidentity.RedeemRequest{Code: code, RedirectURI: redirect, Scopes: scopes, CodeVerifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	oid, tid, _ := strings.Cut(red.HomeAccountID, ".")
	return ginidentity.WithClaims(ctx, ginidentity.NewClaims(map[string]any{"oid": oid, "tid": tid}, ""))
}
