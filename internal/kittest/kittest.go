// Package kittest holds the test helpers the kit's downstream packages (gindownstream, gingraph, ginazure)
// share: a TokenAcquirer for an app of the emulator's directory, and the context a web API's handler sees for
// a caller. Like httptest's helpers, they fail the test on error.
package kittest

import (
	"context"
	"io"
	"log/slog"
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
