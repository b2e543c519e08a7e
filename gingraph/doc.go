// Package gingraph gives Gin handlers a Microsoft Graph client (msgraph-sdk-go's GraphServiceClient) acting
// for the current user or for the app, with tokens from ginidentity, as Microsoft.Identity.Web's
// AddMicrosoftGraph does for ASP.NET Core.
//
// The MicrosoftGraph configuration section gives the base URL (https://graph.microsoft.com/v1.0 by default,
// or the local emulator's Graph) and the delegated scopes (User.Read by default):
//
//	"MicrosoftGraph": { "BaseUrl": "https://graph.microsoft.com/v1.0", "Scopes": ["User.Read"] }
//
// Build a *Graph once with New, then in a handler ask for a client:
//
//	client, err := graph.ForUser(c)            // the signed-in user, or a web API's caller (on-behalf-of)
//	me, err := client.Me().Get(c, nil)
//
//	client, err := graph.ForApp()              // the app itself: https://graph.microsoft.com/.default
//	users, err := client.Users().Get(ctx, nil)
//
// WithScopes asks for other scopes (incremental consent) for one client; WithAcquireOptions passes options
// to the token acquisition (a tenant, a forced refresh).
//
// The clients' authentication provider puts a token only on requests to the configured Graph origin. A
// claims challenge from Graph (continuous access evaluation) is answered once with a token that satisfies
// it. When the user must act (consent, sign in again), a request's error wraps the acquirer's
// *ginidentity.InteractionRequiredError, which a web app turns into a redirect to the sign-in page.
//
// msgraph-sdk-go is large and slow to compile: only the programs that import this package pay for it.
package gingraph
