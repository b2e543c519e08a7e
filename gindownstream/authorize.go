package gindownstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
)

// principal is whom a call acts for.
type principal int

const (
	forUser  principal = iota // the current user
	forApp                    // the app itself
	byConfig                  // the app when RequestAppToken is set, the user otherwise
)

// authorizer puts the Authorization header of one principal, for one API's scopes, on the requests to that
// API's origin.
type authorizer struct {
	tokens  TokenAcquirer
	last    *atomic.Pointer[authHeader] // the API's last header, reused while the token is the same
	api     string                      // the DownstreamApis key, for messages
	origin  origin
	user    *ginidentity.Claims // nil for the app
	scopes  []string
	scheme  string
	acquire []ginidentity.AcquireOption
}

// authorizer checks that the call can have a token: an app token needs one /.default scope, a user token
// needs a user in ctx (bound now: later requests of an HTTPClientForUser act for that user).
func (c *Client) authorizer(ctx context.Context, who principal, a *api, ep *endpoint) (*authorizer, error) {
	o := ep.opts
	z := &authorizer{tokens: c.tokens, last: &a.last, api: a.name, origin: a.origin, scopes: o.Scopes, scheme: o.ProtocolScheme,
		acquire: ep.acquire}
	if z.scheme == "" {
		z.scheme = "Bearer"
	}
	if len(z.scopes) == 0 {
		return nil, fmt.Errorf("gindownstream: %s: no scopes to request: set DownstreamApis:%s:Scopes, or pass WithScopes", a.name, a.name)
	}
	if who == forApp || (who == byConfig && o.RequestAppToken) {
		if len(z.scopes) != 1 || !strings.HasSuffix(z.scopes[0], "/.default") {
			return nil, fmt.Errorf("gindownstream: %s: an app token is requested for one \"{resource}/.default\" scope, and the scopes are %q: set DownstreamApis:%s:Scopes to [\"api://<client id>/.default\"] or pass WithScopes",
				a.name, z.scopes, a.name)
		}
		return z, nil
	}
	cl, ok := requestUser(ctx)
	if !ok {
		return nil, fmt.Errorf("gindownstream: %s: %w", a.name, ginidentity.ErrNoUser)
	}
	z.user = cl
	return z, nil
}

// acquireOptions turns an entry's AcquireTokenOptions into options of the TokenAcquirer, before the call's own.
func acquireOptions(o ginidentity.AcquireTokenOptions, extra []ginidentity.AcquireOption) []ginidentity.AcquireOption {
	var opts []ginidentity.AcquireOption
	if o.Tenant != "" {
		opts = append(opts, ginidentity.WithTenant(o.Tenant))
	}
	if o.Claims != "" {
		opts = append(opts, ginidentity.WithClaimsChallenge(o.Claims))
	}
	if o.ForceRefresh {
		opts = append(opts, ginidentity.WithForceRefresh())
	}
	if len(o.ExtraQueryParameters) > 0 {
		opts = append(opts, ginidentity.WithExtraQueryParameters(o.ExtraQueryParameters))
	}
	if len(opts) == 0 {
		return extra
	}
	return append(opts, extra...)
}

// header is the Authorization header's value: a token, satisfying the claims of a challenge when not "".
func (z *authorizer) header(ctx context.Context, claims string) (string, error) {
	opts := z.acquire
	if claims != "" {
		opts = append(slices.Clip(opts), ginidentity.WithClaimsChallenge(claims))
	}
	var tok ginidentity.Token
	var err error
	who := "for the app"
	if z.user == nil {
		tok, err = z.tokens.TokenForApp(ctx, z.scopes[0], opts...)
	} else {
		who = "for the user"
		if cl, ok := ginidentity.ClaimsFromContext(ctx); !ok || cl != z.user {
			ctx = ginidentity.WithClaims(ctx, z.user)
		}
		tok, err = z.tokens.TokenForUser(ctx, z.scopes, opts...)
	}
	if err != nil {
		return "", fmt.Errorf("gindownstream: %s: no token %s for %s: %w", z.api, who, strings.Join(z.scopes, " "), err)
	}
	if h := z.last.Load(); h != nil && h.token == tok.AccessToken && h.scheme == z.scheme {
		return h.value, nil
	}
	h := &authHeader{token: tok.AccessToken, scheme: z.scheme, value: z.scheme + " " + tok.AccessToken}
	z.last.Store(h)
	return h.value, nil
}

// authHeader is an Authorization header's value and the token it carries: building it copies the token,
// about 2 KB, which the calls of one API with one cached token need not repeat.
type authHeader struct{ token, scheme, value string }

// do sends req, which the caller owns, with a token when it goes to the API's origin (never elsewhere), and
// once more with a token satisfying the claims challenge of a 401, when its body can be sent again.
func (z *authorizer) do(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if !z.origin.of(req.URL) {
		return send(req)
	}
	h, err := z.header(req.Context(), "")
	if err != nil {
		closeBody(req)
		return nil, err
	}
	req.Header.Set("Authorization", h)
	resp, err := send(req)
	if err != nil {
		return nil, err
	}
	claims := claimsChallenge(resp)
	if claims == "" {
		return resp, nil
	}
	retry, ok := replay(req)
	if !ok {
		return resp, nil
	}
	discard(resp)
	if h, err = z.header(req.Context(), claims); err != nil {
		closeBody(retry)
		return nil, err
	}
	retry.Header.Set("Authorization", h)
	return send(retry)
}

// replay returns a copy of req to send again, with a new body, if its body can be had again.
func replay(req *http.Request) (*http.Request, bool) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r.Body = body
	return r, true
}

// discard reads what is left of a small answer, so that its connection can be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
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
