package main

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
	"testing"
	"time"

	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The sample web app's way to this API: alice signs in to the web app, which calls the API for her through
// gindownstream. Reading needs the consented ToDoList.Read; adding needs ToDoList.ReadWrite, which she has
// not consented to at first: the error is the one the web app turns into a trip to the consent page.
func TestTheWebAppCallsTheAPI(t *testing.T) {
	e := entratest.Start(t)
	srv := startAPI(t, e)
	cfg := &ginidentity.Config{
		AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
			ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret},
		DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{
			"TodoList": {BaseURL: srv.URL, RelativePath: "api/todolist", Scopes: []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"}},
		},
	}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	downstream, err := gindownstream.New(cfg, acquirer, nil)
	if err != nil {
		t.Fatal(err)
	}
	readWrite := gindownstream.WithScopes(entratest.WebAPIAppIDURI + "/ToDoList.ReadWrite")

	alice := signIn(t, e, acquirer, entratest.Alice, []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"})
	var items []Todo
	if err := downstream.GetForUser(alice, "TodoList", &items); err != nil || len(items) != 0 {
		t.Fatalf("%v %+v", err, items)
	}
	err = downstream.PostForUser(alice, "TodoList", map[string]string{"title": "Buy milk"}, nil, readWrite)
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || !strings.Contains(strings.Join(ie.Scopes, " "), "ToDoList.ReadWrite") {
		t.Fatalf("%v, want an InteractionRequiredError for ToDoList.ReadWrite", err)
	}

	// After consenting (a new sign-in with the scope), the item round-trips.
	alice = signIn(t, e, acquirer, entratest.Alice, []string{entratest.WebAPIAppIDURI + "/ToDoList.ReadWrite"})
	var created Todo
	if err := downstream.PostForUser(alice, "TodoList", map[string]string{"title": "Buy milk"}, &created, readWrite); err != nil || created.Title != "Buy milk" {
		t.Fatalf("%v %+v", err, created)
	}
	if err := downstream.GetForUser(alice, "TodoList", &items); err != nil || len(items) != 1 || items[0] != created {
		t.Fatalf("%v %+v", err, items)
	}
	// The API's refusals come back with their status.
	err = downstream.PostForUser(alice, "TodoList", map[string]string{"title": " "}, nil, readWrite)
	var ae *gindownstream.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(string(ae.Body), "blank") {
		t.Fatalf("%v", err)
	}
}

var (
	flowInput  = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	formAction = regexp.MustCompile(`<form id="(?:signin|consent)" method="post" action="([^"]+)"`)
)

// signIn signs the user in to the sample web app through the emulator's pages, as a browser does (accepting
// the consent page if one comes), redeems the code, and returns the context of a signed-in request.
func signIn(t *testing.T, e *entratest.Emulator, a *ginidentity.TokenAcquirer, user string, scopes []string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
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
