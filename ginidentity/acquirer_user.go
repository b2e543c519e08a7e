package ginidentity

import (
	"context"
	"fmt"
)

// TokenForUser gets a token for the user of the request whose context ctx is, for the scopes (of one
// resource, such as "https://graph.microsoft.com/User.Read"). Which user is decided by the *Claims the
// middleware put in the context: a caller of a web API (Claims.RawToken is set) gets a token on behalf of
// its incoming token, cached per incoming token; the signed-in user of a web app gets one from the token
// cache, refreshed with the user's refresh token when needed.
//
// When the user must act (consent missing, refresh token revoked or expired, a claims challenge, tokens not
// in the cache) the error is an *InteractionRequiredError; with no user in the context it is ErrNoUser.
func (a *TokenAcquirer) TokenForUser(ctx context.Context, scopes []string, opts ...AcquireOption) (Token, error) {
	cl, ok := ClaimsFromContext(ctx)
	if !ok {
		return Token{}, ErrNoUser
	}
	o, err := applyAcquireOptions(opts)
	if err != nil {
		return Token{}, err
	}
	rs := resourceScopes(scopes)
	if len(rs) == 0 {
		return Token{}, fmt.Errorf("ginidentity: TokenForUser(%q): ask for the scopes of a resource, such as https://graph.microsoft.com/User.Read", scopes)
	}
	if raw := cl.RawToken(); raw != "" {
		return a.onBehalfOf(ctx, raw, cl.rawTokenDigest(), cl.TenantID(), rs, o)
	}
	id := cl.HomeAccountID()
	if id == "" {
		return Token{}, fmt.Errorf("%w (the claims have no oid or no tid)", ErrNoUser)
	}
	return a.userToken(ctx, id, rs, o)
}
