package gindownstream

import (
	"errors"
	"net/http"
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
	signIn        = kittest.SignIn
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
