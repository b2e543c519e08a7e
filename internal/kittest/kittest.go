// Package kittest holds the test helpers the kit's downstream packages (gindownstream, gingraph, ginazure)
// share: a TokenAcquirer for an app of the emulator's directory, a user signed in through the emulator's pages, and the context a web API's handler sees for
// a caller. Like httptest's helpers, they fail the test on error.
package kittest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// QuietLogger discards everything.
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Context is a context for one test, cancelled after two minutes or when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Acquirer is the TokenAcquirer of an app of the emulator's directory, authenticating with a secret.
func Acquirer(t testing.TB, e *entratest.Emulator, tenant, clientID, secret string) *ginidentity.TokenAcquirer {
	t.Helper()
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: tenant, ClientID: clientID, ClientSecret: secret}}
	a, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient(), Logger: QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// CallerContext is the context of a request to the sample web API from the user, through the sample web
// app, as the bearer middleware leaves it: the validated claims, with the raw token for on-behalf-of.
func CallerContext(t testing.TB, e *entratest.Emulator, user string) context.Context {
	t.Helper()
	claims, err := e.UserTokenClaims(user, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	if err != nil {
		t.Fatal(err)
	}
	token, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ginidentity.NewBearerAuth(ginidentity.BearerOptions{Instance: e.Instance(), TenantID: "organizations",
		ClientID: entratest.WebAPIClientID, HTTPClient: e.HTTPClient(), Logger: QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := auth.ValidateToken(Context(t), token)
	if err != nil {
		t.Fatal(err)
	}
	return ginidentity.WithClaims(Context(t), cl)
}

// The emulator's sign-in and consent pages: the form to post, and the server-side flow it carries.
var (
	flowField  = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form id="(?:signin|consent)" method="post" action="([^"]+)"`)
)

// SignIn signs the user in to the sample web app through the emulator's pages, as a browser does (accepting
// the consent page if one comes), redeems the code with the acquirer, and returns the context a signed-in request carries (the user's oid and tid, no raw token).
func SignIn(t testing.TB, e *entratest.Emulator, a *ginidentity.TokenAcquirer, user string, scopes []string) context.Context {
	t.Helper()
	ctx := Context(t)
	const redirect = "http://localhost:5000/signin-oidc"
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	authURL, err := a.AuthorizeURL(ctx, ginidentity.AuthorizeRequest{RedirectURI: redirect, Scopes: scopes, State: "s",
		CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), ResponseMode: "query", Prompt: "login"})
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
		flow, action := flowField.FindSubmatch(body), formAction.FindSubmatch(body)
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
