package ginidentity

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// RequireSignIn lets a request through when a user is signed in; their claims are then reachable through
// ClaimsFrom(c). Otherwise a browser navigating to the page is sent to sign in and comes back to it, while
// a script (fetch or XMLHttpRequest: Sec-Fetch-Mode other than navigate, X-Requested-With, or an Accept
// header asking for JSON rather than HTML) gets 401 with a JSON body holding the sign-in URL to navigate to:
// a redirect to the identity provider is of no use to it. When the session store is down, the request gets
// 503 Service Unavailable instead (see ErrSessionStoreUnavailable).
func (a *WebApp) RequireSignIn() gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.authenticate(c) != nil {
			c.Next()
			return
		}
		if a.sessionUnavailable(c) {
			return
		}
		a.challenge(c, signInRequest{returnURL: currentReturnURL(c.Request)}, "login_required", "sign-in required")
	}
}

// challenge sends the user to sign in (a browser) or answers 401 naming the sign-in URL (a script), and
// aborts the chain. A signed-in user is hinted to the identity provider, so that they are not asked which
// account to use again.
func (a *WebApp) challenge(c *gin.Context, req signInRequest, code, description string) {
	if u := a.authenticate(c); u != nil && req.loginHint == "" {
		cl := NewClaims(u.Claims, "")
		if hint, ok := ClaimAs[string](cl, "login_hint"); ok {
			req.loginHint = hint
		} else {
			req.loginHint = cl.PreferredUsername()
		}
	}
	if isBrowserNavigation(c.Request) {
		if err := a.startSignIn(c, req); err != nil {
			a.fail(c, http.StatusBadGateway, err)
		}
		return
	}
	q := url.Values{"returnUrl": {req.returnURL}}
	if len(req.scopes) > 0 {
		q.Set("scope", strings.Join(req.scopes, " "))
	}
	if req.claims != "" {
		q.Set("claims", req.claims)
	}
	if req.loginHint != "" {
		q.Set("loginHint", req.loginHint)
	}
	signInURL := a.signInPath + "?" + q.Encode()
	challenge := `OpenIDConnect error="` + code + `", sign_in_url="` + signInURL + `"`
	if len(req.scopes) > 0 {
		challenge += `, scope="` + strings.Join(req.scopes, " ") + `"`
	}
	if req.claims != "" {
		challenge += `, claims="` + base64.StdEncoding.EncodeToString([]byte(req.claims)) + `"`
	}
	c.Header("WWW-Authenticate", challenge)
	c.Header("Cache-Control", "no-store")
	body := gin.H{"error": code, "error_description": description, "signInUrl": signInURL}
	if len(req.scopes) > 0 {
		body["scopes"] = req.scopes
	}
	c.AbortWithStatusJSON(http.StatusUnauthorized, body)
}

// isBrowserNavigation tells a browser loading a page from a script asking for data.
func isBrowserNavigation(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return false
	}
	accept := strings.ToLower(r.Header.Get("Accept"))
	if strings.Contains(accept, "text/html") || strings.Contains(accept, "application/xhtml+xml") {
		return true
	}
	return !strings.Contains(accept, "json")
}

// currentReturnURL is where a sign-in started by this request comes back to: the page itself for GET and
// HEAD, its path for other methods (whose body is lost anyway).
func currentReturnURL(r *http.Request) string {
	target := r.URL.Path
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		target = r.URL.RequestURI()
	}
	u, _ := localReturnURL(target)
	return u
}
