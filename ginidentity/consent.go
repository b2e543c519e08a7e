package ginidentity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// RequireScopes makes sure a token for these scopes can be acquired for the signed-in user before the
// handler runs, like Microsoft.Identity.Web's [AuthorizeForScopes]: when the user has not consented to
// them yet (or must sign in again: revoked refresh token, conditional access, tokens evicted from the cache),
// the browser is sent to the authorize endpoint asking for them, and comes back to the page; a script gets
// 401 with WWW-Authenticate naming the scopes. Nobody signed in is sent to sign in, asked for the scopes at
// once. The handler's own TokenForUser call with these scopes is then served from the cache. When the
// session store or the token cache is down, the request gets 503 Service Unavailable.
//
// This is for scopes of APIs the web app calls (delegated permissions it requests); the package-level
// RequireScopes checks the scopes of the token a web API receives.
func (a *WebApp) RequireScopes(scopes ...string) gin.HandlerFunc {
	scopes = slices.Clone(scopes)
	var invalid error
	if len(scopes) == 0 {
		invalid = errors.New("ginidentity: WebApp.RequireScopes was given no scope: name the scopes the route needs, such as https://graph.microsoft.com/Mail.Read")
	}
	for _, s := range scopes {
		if !validScope(s) {
			invalid = fmt.Errorf("ginidentity: WebApp.RequireScopes was given %q, which is not a scope", s)
		}
	}
	if invalid != nil {
		a.logger.Error(invalid.Error() + "; the route refuses every request")
	}
	return func(c *gin.Context) {
		if invalid != nil {
			_ = c.Error(invalid)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		if a.authenticate(c) == nil {
			if a.sessionUnavailable(c) {
				return
			}
			a.challenge(c, signInRequest{returnURL: currentReturnURL(c.Request), scopes: scopes}, "login_required", "sign-in required")
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.redemptionTimeout)
		_, err := a.acquirer.TokenForUser(ctx, scopes)
		cancel()
		if err == nil {
			c.Next()
			return
		}
		if Challenge(c, err) {
			return
		}
		if storeUnavailable(err) {
			a.unavailable(c, err)
			return
		}
		_ = c.Error(err)
		a.logger.Warn("ginidentity: no token for the signed-in user", "scopes", scopes, "err", err)
		c.Header("Cache-Control", "no-store")
		c.AbortWithStatus(http.StatusBadGateway)
	}
}

// Challenge answers err when the user must act for a token, and reports whether it did: for an
// *InteractionRequiredError (consent missing, a claims challenge, a refresh token revoked, tokens no longer
// cached) the browser is sent to the authorize endpoint with its scopes and claims and comes back to the
// current page, and a script gets 401 with WWW-Authenticate naming them; for ErrNoUser the user is sent to
// sign in (or, when the session store is down, the request gets 503). Any other error is left to the
// caller. It needs the request to have gone through the WebApp's Middleware, RequireSignIn or RequireScopes,
// and aborts the chain when it answers.
//
//	tok, err := app.TokenAcquirer().TokenForUser(c.Request.Context(), scopes)
//	if ginidentity.Challenge(c, err) {
//		return
//	}
func Challenge(c *gin.Context, err error) bool {
	if err == nil {
		return false
	}
	a := webAppFrom(c)
	if a == nil {
		return false
	}
	var ire *InteractionRequiredError
	switch {
	case errors.As(err, &ire):
		a.challenge(c, signInRequest{returnURL: currentReturnURL(c.Request), scopes: ire.Scopes, claims: ire.Claims},
			"interaction_required", "the user must sign in again or consent: "+ire.Reason)
		return true
	case errors.Is(err, ErrNoUser):
		if a.sessionUnavailable(c) { // someone may be signed in: the session store cannot say
			return true
		}
		a.challenge(c, signInRequest{returnURL: currentReturnURL(c.Request)}, "login_required", "sign-in required")
		return true
	}
	return false
}
