package gingraph

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/internal/kittest"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// The helpers the downstream packages' tests share.
var (
	testContext   = kittest.Context
	acquirer      = kittest.Acquirer
	callerContext = kittest.CallerContext
)

func init() { gin.SetMode(gin.TestMode) }

// newGraph points Graph clients at the emulator's Graph, counting the requests that reach it.
func newGraph(t *testing.T, e *entratest.Emulator, tokens TokenAcquirer) (*Graph, *atomic.Int32) {
	t.Helper()
	hc := e.HTTPClient()
	n := &atomic.Int32{}
	next := hc.Transport
	hc.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return next.RoundTrip(r)
	})
	g, err := New(&ginidentity.Config{MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: e.GraphURL()}}, tokens, &Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return g, n
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A web API reads its caller's profile on behalf of the caller; a claims challenge from Graph is answered
// once with a token satisfying it, and the request succeeds.
func TestForUserOnBehalfOfTheCaller(t *testing.T) {
	e := entratest.Start(t)
	g, requests := newGraph(t, e, acquirer(t, e, "organizations", entratest.WebAPIClientID, entratest.WebAPISecret))
	ctx := callerContext(t, e, entratest.Alice)
	client, err := g.ForUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	me, err := client.Me().Get(ctx, nil)
	if err != nil || *me.GetDisplayName() != "Alice Smith" {
		t.Fatalf("%v", err)
	}

	if _, err := e.RequireClaimsChallenge(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	requests.Store(0)
	me, err = client.Me().Get(ctx, nil)
	if err != nil || *me.GetDisplayName() != "Alice Smith" {
		t.Fatalf("after the claims challenge: %v", err)
	}
	if n := requests.Load(); n != 2 {
		t.Fatalf("%d requests to Graph, want the challenged one and its retry", n)
	}

	// Another user through the same API, on a client of their own.
	carol := callerContext(t, e, entratest.Carol)
	client, err = g.ForUser(carol)
	if err != nil {
		t.Fatal(err)
	}
	if me, err = client.Me().Get(carol, nil); err != nil || *me.GetDisplayName() != "Carol Lee" {
		t.Fatalf("carol: %v", err)
	}

	// Scopes of a request that nobody consented to: the user must act, and the error says so.
	client, err = g.ForUser(ctx, WithScopes("Mail.Read"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Me().Messages().Get(ctx, nil)
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "gingraph: no token for the user for Mail.Read") {
		t.Fatalf("%v", err)
	}
}

// A daemon lists the users of its tenant as itself.
func TestForApp(t *testing.T) {
	e := entratest.Start(t)
	g, _ := newGraph(t, e, acquirer(t, e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret))
	client, err := g.ForApp()
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.Users().Get(testContext(t), &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"displayName"}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list.GetValue() {
		names = append(names, *u.GetDisplayName())
	}
	if strings.Join(names, ",") != "Alice Smith,Bob Jones" {
		t.Fatalf("users %q", names)
	}
	if _, err := g.ForApp(WithScopes("User.Read.All")); err == nil || !strings.Contains(err.Error(), "https://graph.microsoft.com/.default") {
		t.Fatalf("an app client with a delegated scope: %v", err)
	}
}

// fakeTokens answers every request with a fixed token, remembering the user it was asked for.
type fakeTokens struct{ users []string }

func (f *fakeTokens) TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	cl, _ := ginidentity.ClaimsFromContext(ctx)
	f.users = append(f.users, cl.ObjectID())
	return ginidentity.Token{AccessToken: "user-token"}, nil
}

func (f *fakeTokens) TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	return ginidentity.Token{AccessToken: "app-token"}, nil
}

// Tokens go to the configured Graph only: not to another host a request (a nextLink) may point at.
func TestTokensStayWithGraph(t *testing.T) {
	p := &authProvider{tokens: &fakeTokens{}, scopes: []string{"https://graph.microsoft.com/.default"}, origin: "https://graph.microsoft.com"}
	for _, tc := range []struct {
		url, want string
	}{
		{"https://graph.microsoft.com/v1.0/users?$skiptoken=x", "Bearer app-token"},
		{"https://GRAPH.microsoft.com/v1.0/me", "Bearer app-token"},
		{"https://evil.example/v1.0/users", ""},
		{"http://graph.microsoft.com/v1.0/users", ""},
		{"https://graph.microsoft.com:8443/v1.0/users", ""},
	} {
		req := abs.NewRequestInformation()
		req.SetUri(*mustParse(t, tc.url))
		req.Headers.Add("Authorization", "Bearer stale")
		if err := p.AuthenticateRequest(context.Background(), req, nil); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(req.Headers.Get("Authorization"), ",")
		if got != tc.want {
			t.Errorf("%s: Authorization %q, want %q", tc.url, got, tc.want)
		}
	}
}

// A handler passes its *gin.Context: the client acts for the request's user.
func TestForUserFromGinContext(t *testing.T) {
	tokens := &fakeTokens{}
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer user-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"displayName":"Bob Jones"}`)
	}))
	defer graph.Close()
	g, err := New(&ginidentity.Config{MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: graph.URL + "/v1.0"}}, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ForUser(context.Background()); !errors.Is(err, ginidentity.ErrNoUser) {
		t.Fatalf("without a user: %v", err)
	}
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(ginidentity.WithClaims(c.Request.Context(), ginidentity.NewClaims(map[string]any{"oid": "bob"}, "")))
	})
	var name string
	r.GET("/", func(c *gin.Context) {
		client, err := g.ForUser(c)
		if err != nil {
			t.Error(err)
			return
		}
		me, err := client.Me().Get(c, nil)
		if err != nil {
			t.Error(err)
			return
		}
		name = *me.GetDisplayName()
	})
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if name != "Bob Jones" || strings.Join(tokens.users, ",") != "bob" {
		t.Fatalf("name %q, token asked for %q", name, tokens.users)
	}
}

func TestNewChecksEverything(t *testing.T) {
	_, err := New(nil, nil, nil)
	for _, want := range []string{"configuration is nil", "TokenAcquirer is nil"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want it to say %q", err, want)
		}
	}
	_, err = New(&ginidentity.Config{MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: "http://graph.contoso.com/v1.0"}}, &fakeTokens{}, nil)
	if err == nil || !strings.Contains(err.Error(), "MicrosoftGraph:BaseUrl") {
		t.Errorf("an http Graph: %v", err)
	}
	g, err := New(&ginidentity.Config{MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: "https://graph.microsoft.us/v1.0"}}, &fakeTokens{}, nil)
	if err != nil || g.appScope != "https://graph.microsoft.us/.default" || strings.Join(g.userScopes, " ") != "User.Read" {
		t.Errorf("a national cloud: %v %+v", err, g)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
