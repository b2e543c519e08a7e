package ginazure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
)

// TokenAcquirer gets the access tokens. *ginidentity.TokenAcquirer is the one to use; tests may pass their
// own.
type TokenAcquirer interface {
	// TokenForUser gets a token for the user of the request ctx belongs to: on behalf of a web API's caller,
	// or for a web app's signed-in user.
	TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
	// TokenForApp gets a token for the app itself, for a resource's /.default scope.
	TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
}

var _ TokenAcquirer = (*ginidentity.TokenAcquirer)(nil)

// CredentialOptions configures a Credential. A nil *CredentialOptions means the defaults.
type CredentialOptions struct {
	// Scopes, when set, are requested instead of the scopes the Azure SDK client asks for (such as
	// "https://storage.azure.com/.default"): for a user, delegated scopes such as
	// "https://storage.azure.com/user_impersonation"; for the app, one "{resource}/.default" scope.
	Scopes []string
	// AcquireOptions apply to every token: ginidentity.WithTenant, WithForceRefresh,
	// WithExtraQueryParameters. A client's TokenRequestOptions.TenantID, when set, comes after them.
	AcquireOptions []ginidentity.AcquireOption
}

// Credential is an azcore.TokenCredential acting for one user, or for the app, with tokens from a
// TokenAcquirer. Any Azure SDK client accepts it (azblob, azkeys, azservicebus...). Azure SDK clients cache
// the token themselves and ask again shortly before it expires, or with the claims of a claims challenge.
// A Credential is safe for concurrent use.
type Credential struct {
	tokens  TokenAcquirer
	user    *ginidentity.Claims // nil for the app
	scopes  []string
	acquire []ginidentity.AcquireOption
}

var _ azcore.TokenCredential = (*Credential)(nil)

// NewUserCredential returns a credential acting for the current user: the user of ctx's request (a
// *gin.Context, or its Request.Context()), bound now, so that the credential keeps acting for that user
// whatever context its GetToken is given. A web API's caller is served on behalf of its token; a web app's
// signed-in user from the token cache. With no user in ctx the error wraps ginidentity.ErrNoUser.
func NewUserCredential(ctx context.Context, tokens TokenAcquirer, opts *CredentialOptions) (*Credential, error) {
	c, err := newCredential(tokens, opts)
	if err != nil {
		return nil, err
	}
	cl, ok := requestUser(ctx)
	if !ok {
		return nil, fmt.Errorf("ginazure: NewUserCredential: %w", ginidentity.ErrNoUser)
	}
	c.user = cl
	return c, nil
}

// NewAppCredential returns a credential acting for the app itself (client credentials). Azure SDK clients
// ask for their resource's "/.default" scope, which is what an app token needs.
func NewAppCredential(tokens TokenAcquirer, opts *CredentialOptions) (*Credential, error) {
	c, err := newCredential(tokens, opts)
	if err != nil {
		return nil, err
	}
	if len(c.scopes) > 0 && !isDotDefault(c.scopes) {
		return nil, fmt.Errorf("ginazure: NewAppCredential: CredentialOptions.Scopes is %q: an app token is asked for one \"{resource}/.default\" scope, such as https://storage.azure.com/.default", c.scopes)
	}
	return c, nil
}

func newCredential(tokens TokenAcquirer, opts *CredentialOptions) (*Credential, error) {
	if tokens == nil {
		return nil, errors.New("ginazure: the TokenAcquirer is nil: pass the app's *ginidentity.TokenAcquirer (ginidentity.NewTokenAcquirer)")
	}
	c := &Credential{tokens: tokens}
	if opts != nil {
		c.scopes, c.acquire = slices.Clone(opts.Scopes), slices.Clone(opts.AcquireOptions)
	}
	return c, nil
}

func isDotDefault(scopes []string) bool {
	return len(scopes) == 1 && strings.HasSuffix(scopes[0], "/.default")
}

// GetToken gets a token for the scopes the client asks (or CredentialOptions.Scopes), in the tenant it asks
// (TokenRequestOptions.TenantID) and with the claims of a claims challenge (TokenRequestOptions.Claims).
// When the user must act (sign in again, consent) the error wraps the acquirer's
// *ginidentity.InteractionRequiredError, which errors.As finds through the Azure SDK's errors too.
func (c *Credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	scopes := c.scopes
	if len(scopes) == 0 {
		scopes = o.Scopes
	}
	opts := c.acquire
	if o.TenantID != "" || o.Claims != "" {
		opts = slices.Clone(opts)
		if o.TenantID != "" {
			opts = append(opts, ginidentity.WithTenant(o.TenantID))
		}
		if o.Claims != "" {
			opts = append(opts, ginidentity.WithClaimsChallenge(o.Claims))
		}
	}
	var tok ginidentity.Token
	var err error
	switch {
	case len(scopes) == 0:
		return azcore.AccessToken{}, errors.New("ginazure: GetToken: no scopes: the Azure SDK client asked for none; set CredentialOptions.Scopes")
	case c.user != nil:
		if tok, err = c.tokens.TokenForUser(ginidentity.WithClaims(ctx, c.user), scopes, opts...); err != nil {
			return azcore.AccessToken{}, fmt.Errorf("ginazure: no token for the user for %s: %w", strings.Join(scopes, " "), err)
		}
	case !isDotDefault(scopes):
		return azcore.AccessToken{}, fmt.Errorf("ginazure: GetToken: an app token is asked for one \"{resource}/.default\" scope, and the scopes are %q", scopes)
	default:
		if tok, err = c.tokens.TokenForApp(ctx, scopes[0], opts...); err != nil {
			return azcore.AccessToken{}, fmt.Errorf("ginazure: no token for the app for %s: %w", scopes[0], err)
		}
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: tok.ExpiresOn}, nil
}

// requestUser returns the user of the request ctx belongs to: the claims the sign-in or bearer middleware put
// in the request's context, or in the gin context when ctx is a *gin.Context (or derives from one).
func requestUser(ctx context.Context) (*ginidentity.Claims, bool) {
	if cl, ok := ginidentity.ClaimsFromContext(ctx); ok {
		return cl, true
	}
	if gc, ok := ctx.Value(gin.ContextKey).(*gin.Context); ok {
		return ginidentity.ClaimsFrom(gc)
	}
	return nil, false
}
