package gingraph

import (
	"context"
	"fmt"
	"strings"

	"github.com/gin-identity/kit/ginidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/authentication"
)

// authProvider is the Graph SDK's (kiota's) authentication provider over a TokenAcquirer: it puts a token of
// one user, or of the app, on each request to Graph's origin, and none on a request anywhere else (a
// nextLink to another host).
type authProvider struct {
	tokens  TokenAcquirer
	user    *ginidentity.Claims // nil for the app
	scopes  []string
	acquire []ginidentity.AcquireOption
	origin  string
}

var _ authentication.AuthenticationProvider = (*authProvider)(nil)

// claimsKey is where the Graph SDK passes the claims of a claims challenge when it retries a request that
// received one (kiota-http-go's NetHttpRequestAdapter, once per request).
const claimsKey = "claims"

func (p *authProvider) AuthenticateRequest(ctx context.Context, request *abs.RequestInformation, additional map[string]any) error {
	u, err := request.GetUri()
	if err != nil {
		return fmt.Errorf("gingraph: %w", err)
	}
	request.Headers.Remove("Authorization") // a retry reuses the request
	if origin(u) != p.origin {
		return nil
	}
	opts := p.acquire
	if claims, _ := additional[claimsKey].(string); claims != "" {
		opts = append(opts[:len(opts):len(opts)], ginidentity.WithClaimsChallenge(claims))
	}
	var tok ginidentity.Token
	if p.user == nil {
		tok, err = p.tokens.TokenForApp(ctx, p.scopes[0], opts...)
	} else {
		tok, err = p.tokens.TokenForUser(ginidentity.WithClaims(ctx, p.user), p.scopes, opts...)
	}
	if err != nil {
		who := "the app"
		if p.user != nil {
			who = "the user"
		}
		return fmt.Errorf("gingraph: no token for %s for %s: %w", who, strings.Join(p.scopes, " "), err)
	}
	request.Headers.Add("Authorization", "Bearer "+tok.AccessToken)
	return nil
}
