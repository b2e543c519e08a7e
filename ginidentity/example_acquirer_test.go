package ginidentity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A daemon gets an app token for a web API with client credentials (here from the emulator, as the
// default directory's daemon app). The second call is served from the token cache.
func ExampleTokenAcquirer_TokenForApp() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoDomain,
		ClientID: entratest.DaemonClientID, ClientSecret: entratest.DaemonSecret}}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tok, err := acquirer.TokenForApp(ctx, "api://11112222-bbbb-3333-cccc-4444dddd5555/.default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("roles:", exampleTokenPayload(tok.AccessToken)["roles"])
	again, _ := acquirer.TokenForApp(ctx, "api://11112222-bbbb-3333-cccc-4444dddd5555/.default")
	fmt.Println("second call from the cache:", again.FromCache, again.AccessToken == tok.AccessToken)
	fmt.Println("printing a Token shows its secret:", strings.Contains(fmt.Sprint(again), again.AccessToken))
	// Output:
	// roles: [ToDoList.Read.All]
	// second call from the cache: true true
	// printing a Token shows its secret: false
}

// A web API calls Microsoft Graph on behalf of its caller: the bearer middleware puts the caller's claims,
// with the token it presented, in the request's context (here built by hand), and TokenForUser exchanges
// that token. When the caller must consent first, the error says so, with the scopes to ask for.
func ExampleTokenAcquirer_TokenForUser() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
		ClientID: entratest.WebAPIClientID, ClientSecret: entratest.WebAPISecret}}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}

	// Alice calls the web API through the sample web app.
	claims, _ := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	incoming, _ := e.IssueToken(claims)
	ctx := ginidentity.WithClaims(context.Background(), ginidentity.NewClaims(claims, incoming))

	tok, err := acquirer.TokenForUser(ctx, []string{"https://graph.microsoft.com/User.Read"})
	if err != nil {
		log.Fatal(err)
	}
	p := exampleTokenPayload(tok.AccessToken)
	fmt.Println("Graph token for", p["upn"], "with", p["scp"], "requested by", p["appid"])

	_, err = acquirer.TokenForUser(ctx, []string{"https://graph.microsoft.com/Mail.Read"})
	var ire *ginidentity.InteractionRequiredError
	if errors.As(err, &ire) {
		fmt.Println("the user must act:", ire.Reason, "for", ire.Scopes)
	}
	// Output:
	// Graph token for alice@contoso.onmicrosoft.com with User.Read requested by 11112222-bbbb-3333-cccc-4444dddd5555
	// the user must act: consent missing (AADSTS65001) for [https://graph.microsoft.com/Mail.Read]
}

// exampleTokenPayload decodes a token's claims for display: the resource validates tokens, not their holder.
func exampleTokenPayload(token string) map[string]any {
	parts := strings.Split(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}
