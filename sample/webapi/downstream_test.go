package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/internal/kittest"
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

// signIn signs the user in to the sample web app through the emulator's pages (kittest.SignIn).
var signIn = kittest.SignIn
