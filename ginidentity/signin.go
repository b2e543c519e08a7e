package ginidentity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
)

// A sign-in in progress is bound to the browser that started it by a cookie holding its state, nonce and
// PKCE verifier, sealed (AES-256-GCM), HttpOnly, SameSite=Lax, Secure over https, scoped to the callback
// path and short-lived. Its name derives from the state, so that sign-ins in several tabs do not collide.
//
// Why SameSite=Lax works with response_mode=form_post: the identity provider's page posts the response to
// the callback from another site, and a browser sends no Lax cookie with a cross-site POST. Rather than
// weaken the cookie to SameSite=None (which browsers only accept with Secure, so never on
// http://localhost), the callback answers such a POST, when the cookie is missing, with a page that posts
// the same fields to itself once more: that POST comes from the app's own page, is same-site, and carries
// the cookie. The response's fields (the code) stay out of URLs, and a sign-in response this browser did
// not start still finds no cookie and is refused.
const (
	stateCookiePrefix = "ginidentity.signin."
	// resubmitField marks the callback's second POST, so that a response without its cookie is refused
	// rather than resubmitted forever.
	resubmitField = "ginidentity_resubmit"
	// maxCallbackBody bounds the callback's form.
	maxCallbackBody = 64 << 10
	// maxSignInScopes bounds the scopes a sign-in request may ask for.
	maxSignInScopes = 32
	// maxSignInClaims bounds the claims request of a sign-in.
	maxSignInClaims = 4096
)

// The reasons a sign-in response is refused before its ID token is looked at.
var (
	errStateMissing  = &signInProblem{"the response has no state"}
	errStateUnknown  = &signInProblem{"this browser started no sign-in with the response's state (its state cookie is missing, expired or unreadable)"}
	errStateMismatch = &signInProblem{"the response's state is not the one this browser's sign-in sent"}
	errResponseMode  = &signInProblem{"the response did not come back the way the sign-in asked (response_mode)"}
	errNoCode        = &signInProblem{"the response has neither a code nor an error"}
)

// signInFlow is what the callback needs from the sign-in that the browser started, sealed in its cookie.
type signInFlow struct {
	State        string   `json:"s"`
	Nonce        string   `json:"n"`
	Verifier     string   `json:"v"`
	RedirectURI  string   `json:"r"`
	ReturnURL    string   `json:"u"`
	Scopes       []string `json:"sc,omitempty"`
	ResponseMode string   `json:"m"`
}

// signInRequest is what starts a sign-in: where to come back to, and what to ask the identity provider for
// besides the sign-in itself.
type signInRequest struct {
	returnURL             string
	scopes                []string
	claims                string
	loginHint, domainHint string
}

// stateCookieName is the name of the cookie of the sign-in with this state.
func stateCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return stateCookiePrefix + hex.EncodeToString(sum[:8])
}

// startSignIn binds a new sign-in to the browser with its state cookie and redirects it to the authorize
// endpoint. It aborts the chain.
func (a *WebApp) startSignIn(c *gin.Context, req signInRequest) error {
	scopes := slices.Clone(a.scopes)
	for _, s := range req.scopes {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	flow := signInFlow{
		State:        randomString(32),
		Nonce:        randomString(32),
		Verifier:     randomString(32),
		RedirectURI:  a.absoluteURL(c.Request, a.callbackPath),
		ReturnURL:    req.returnURL,
		Scopes:       scopes,
		ResponseMode: a.responseMode,
	}
	authURL, err := a.acquirer.AuthorizeURL(c.Request.Context(), AuthorizeRequest{
		RedirectURI:   flow.RedirectURI,
		Scopes:        scopes,
		State:         flow.State,
		Nonce:         flow.Nonce,
		CodeChallenge: pkceChallenge(flow.Verifier),
		ResponseMode:  a.responseMode,
		LoginHint:     req.loginHint,
		DomainHint:    req.domainHint,
		Claims:        req.claims,
	})
	if err != nil {
		return fmt.Errorf("ginidentity: sign-in: building the authorize URL: %w", err)
	}
	payload, err := json.Marshal(flow)
	if err != nil {
		return fmt.Errorf("ginidentity: sign-in: %w", err)
	}
	name := stateCookieName(flow.State)
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    a.sealer.seal("signin", payload, a.now().Add(a.flowLifetime)),
		Path:     a.callbackPath,
		MaxAge:   int(a.flowLifetime / time.Second),
		HttpOnly: true,
		Secure:   a.isHTTPS(c.Request),
		SameSite: http.SameSiteLaxMode,
	})
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, authURL)
	c.Abort()
	return nil
}

// handleSignIn serves GET SignInPath?returnUrl=/page[&scope=...][&claims=...][&loginHint=...][&domainHint=...]:
// it starts a sign-in that comes back to returnUrl (a local path; anything else comes back to /).
func (a *WebApp) handleSignIn(c *gin.Context) {
	returnURL, ok := localReturnURL(c.Query("returnUrl"))
	if !ok && c.Query("returnUrl") != "" {
		a.logger.Warn("ginidentity: sign-in: returnUrl refused: not a local path", "path", c.FullPath())
	}
	req := signInRequest{returnURL: returnURL, loginHint: c.Query("loginHint"), domainHint: c.Query("domainHint")}
	req.scopes = strings.Fields(c.Query("scope"))
	if len(req.scopes) > maxSignInScopes || slices.ContainsFunc(req.scopes, func(s string) bool { return !validScope(s) }) {
		a.fail(c, http.StatusBadRequest, &signInProblem{"the scope parameter is not a list of scopes"})
		return
	}
	if req.claims = c.Query("claims"); req.claims != "" {
		var obj map[string]any
		if len(req.claims) > maxSignInClaims || json.Unmarshal([]byte(req.claims), &obj) != nil {
			a.fail(c, http.StatusBadRequest, &signInProblem{"the claims parameter is not a JSON object"})
			return
		}
	}
	if len(req.loginHint) > maxSessionClaimBytes || len(req.domainHint) > maxSessionClaimBytes {
		a.fail(c, http.StatusBadRequest, &signInProblem{"loginHint or domainHint is too long"})
		return
	}
	if err := a.startSignIn(c, req); err != nil {
		a.fail(c, http.StatusBadGateway, err)
	}
}

// handleCallback serves AzureAd:CallbackPath: the identity provider's answer to a sign-in, in the query
// (GET) or posted (form_post).
func (a *WebApp) handleCallback(c *gin.Context) {
	params := c.Request.URL.Query()
	if c.Request.Method == http.MethodPost {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxCallbackBody)
		if err := c.Request.ParseForm(); err != nil {
			a.fail(c, http.StatusBadRequest, &signInProblem{"the posted response is not a form"})
			return
		}
		params = c.Request.PostForm
	}
	state := params.Get("state")
	if state == "" {
		a.fail(c, http.StatusBadRequest, errStateMissing)
		return
	}
	name := stateCookieName(state)
	ck, err := c.Request.Cookie(name)
	if err != nil {
		if c.Request.Method == http.MethodPost && params.Get(resubmitField) == "" {
			a.resubmit(c, params)
			return
		}
		a.fail(c, http.StatusBadRequest, errStateUnknown)
		return
	}
	// The cookie is used once, whatever the outcome: a replayed response finds none.
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: a.callbackPath, MaxAge: -1, HttpOnly: true,
		Secure: a.isHTTPS(c.Request), SameSite: http.SameSiteLaxMode})
	var flow signInFlow
	payload, err := a.sealer.open("signin", ck.Value)
	if err != nil || json.Unmarshal(payload, &flow) != nil {
		a.fail(c, http.StatusBadRequest, errStateUnknown)
		return
	}
	if subtle.ConstantTimeCompare([]byte(flow.State), []byte(state)) != 1 {
		a.fail(c, http.StatusBadRequest, errStateMismatch)
		return
	}
	if (flow.ResponseMode == ResponseModeFormPost) != (c.Request.Method == http.MethodPost) {
		a.fail(c, http.StatusBadRequest, errResponseMode)
		return
	}
	if code := params.Get("error"); code != "" {
		status := http.StatusBadRequest
		if code == "access_denied" {
			status = http.StatusForbidden
		}
		a.fail(c, status, &signInProblem{fmt.Sprintf("the identity provider answered %s: %s", code, firstLine(params.Get("error_description")))})
		return
	}
	code := params.Get("code")
	if code == "" {
		a.fail(c, http.StatusBadRequest, errNoCode)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), a.redemptionTimeout)
	defer cancel()
	red, err := a.acquirer.RedeemCode(ctx, RedeemRequest{Code: code, RedirectURI: flow.RedirectURI, Scopes: redemptionScopes(flow.Scopes), CodeVerifier: flow.Verifier})
	if storeUnavailable(err) {
		a.unavailable(c, err)
		return
	}
	if err != nil {
		a.fail(c, http.StatusBadRequest, fmt.Errorf("%w: redeeming the code: %w", ErrSignInFailed, err))
		return
	}
	claims, err := a.signedInClaims(ctx, red, flow.Nonce)
	if err != nil {
		// The redemption stored the user's tokens: a sign-in refused must not leave them usable.
		if red.HomeAccountID != "" {
			if rerr := a.acquirer.RemoveUser(ctx, red.HomeAccountID); rerr != nil {
				a.logger.Warn("ginidentity: sign-in refused, and its tokens could not be removed from the cache", "err", rerr)
			}
		}
		status := http.StatusBadRequest
		if errors.Is(err, ErrKeysUnavailable) {
			status = http.StatusServiceUnavailable
		}
		a.fail(c, status, err)
		return
	}
	if _, err := a.sessions.start(c.Writer, c.Request, claims, a.isHTTPS(c.Request)); err != nil {
		if storeUnavailable(err) {
			a.unavailable(c, err)
		} else {
			a.fail(c, http.StatusInternalServerError, err)
		}
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, flow.ReturnURL)
}

// signedInClaims validates the redemption's ID token and returns the claims the session keeps.
func (a *WebApp) signedInClaims(ctx context.Context, red *Redemption, nonce string) (map[string]any, error) {
	all, err := a.idTokens.validate(ctx, red.IDToken, nonce)
	if err != nil {
		return nil, err
	}
	// The session keeps the account id MSAL filed the tokens under (client_info's uid.utid), as
	// Microsoft.Identity.Web keeps uid and utid: for a guest it is the user's home tenant's, not oid.tid.
	if uid, utid, ok := strings.Cut(red.HomeAccountID, "."); ok && uid != "" && utid != "" {
		all["uid"], all["utid"] = uid, utid
	}
	return sessionClaims(all)
}

// handleSignOut serves SignOutPath[?returnUrl=/page]: it ends the session, removes the user's tokens from the
// cache and sends the browser through the identity provider's end-session endpoint, which signs the user
// out there and comes back to AzureAd:SignedOutCallbackPath, then to returnUrl (a local path, default /).
//
// When the session store or the token cache is down, it answers 503 and leaves the session as it is, so
// that signing out again once the store is back removes both the session and the tokens: a sign-out that
// removed only one of them, or was sent to the identity provider anyway, would leave the user signed in here.
func (a *WebApp) handleSignOut(c *gin.Context) {
	_, u, err := a.sessions.load(c.Request)
	if err != nil {
		a.unavailable(c, err)
		return
	}
	q := url.Values{
		"post_logout_redirect_uri": {a.absoluteURL(c.Request, a.signedOutPath)},
		"client_id":                {a.clientID},
	}
	if u != nil {
		cl := NewClaims(u.Claims, "")
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.redemptionTimeout)
		defer cancel()
		if err := a.acquirer.RemoveUser(ctx, cl.HomeAccountID()); storeUnavailable(err) {
			a.unavailable(c, err)
			return
		} else if err != nil {
			a.logger.Warn("ginidentity: sign-out: the user's tokens could not be removed from the cache", "err", err)
			_ = c.Error(err)
		}
		if hint, ok := ClaimAs[string](cl, "login_hint"); ok {
			q.Set("logout_hint", hint)
		}
	}
	if err := a.sessions.end(c.Writer, c.Request, a.isHTTPS(c.Request)); storeUnavailable(err) {
		a.unavailable(c, err)
		return
	} else if err != nil {
		a.logger.Warn("ginidentity: sign-out: the session could not be ended", "err", err)
		_ = c.Error(err)
	}
	returnURL, _ := localReturnURL(c.Query("returnUrl"))
	q.Set("state", a.sealer.seal("signout", []byte(returnURL), a.now().Add(a.flowLifetime)))
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, a.logoutEndpoint+"?"+q.Encode())
}

// handleSignedOut serves AzureAd:SignedOutCallbackPath, where the end-session endpoint comes back: it
// redirects to the returnUrl the sign-out was given, or to /.
func (a *WebApp) handleSignedOut(c *gin.Context) {
	returnURL := "/"
	if payload, err := a.sealer.open("signout", c.Query("state")); err == nil {
		returnURL, _ = localReturnURL(string(payload))
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, returnURL)
}

// fail records why a sign-in route refused the request (c.Error, the log) and shows the browser a page
// saying so, without the details.
func (a *WebApp) fail(c *gin.Context, status int, err error) {
	_ = c.Error(err)
	a.logger.Warn("ginidentity: sign-in refused", "status", status, "err", err)
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	page := "Sign-in failed. Please try again."
	if status == http.StatusForbidden {
		page = "Sign-in was cancelled."
	}
	renderPage(c, signInFailedPage, map[string]any{"Message": page, "SignIn": a.signInPath})
	c.Abort()
}

// resubmit answers a cross-site form_post that arrived without its state cookie (see stateCookiePrefix)
// with a page posting the same fields to the callback from the app's own origin.
func (a *WebApp) resubmit(c *gin.Context, params url.Values) {
	nonce := randomString(16)
	type field struct{ Name, Value string }
	var fields []field
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fields = append(fields, field{k, params.Get(k)})
	}
	fields = append(fields, field{resubmitField, "1"})
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; form-action 'self'; frame-ancestors 'none'")
	c.Status(http.StatusOK)
	renderPage(c, resubmitPage, map[string]any{"Action": a.callbackPath, "Fields": fields, "Nonce": nonce})
}

func renderPage(c *gin.Context, t *template.Template, data any) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("X-Content-Type-Options", "nosniff")
	if err := t.Execute(c.Writer, data); err != nil {
		_ = c.Error(err)
	}
}

// firstLine keeps the first line of an error description, bounded, for logs.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

var (
	signInFailedPage = template.Must(template.New("failed").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head>
<body><h1 id="signin-error">{{.Message}}</h1><p><a id="signin-again" href="{{.SignIn}}">Sign in</a> · <a href="/">Home</a></p></body></html>
`))
	resubmitPage = template.Must(template.New("resubmit").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in...</title></head>
<body><form id="resubmit" method="post" action="{{.Action}}">{{range .Fields}}
<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><button type="submit">Continue</button></noscript></form>
<script nonce="{{.Nonce}}">document.getElementById("resubmit").submit();</script></body></html>
`))
)

// redemptionScopes are the scopes a sign-in's code is redeemed for. The authorize request asks consent for
// the scopes of every resource at once (the sign-in's, then a challenge's, such as a web API's after
// Graph's User.Read), but a token request names one resource: Entra answers AADSTS28000 otherwise. The code
// is redeemed for the resource of the last scope asked, the challenge's, which the page the user comes back
// to needs; the other resources' tokens come later from the refresh token, without the user.
func redemptionScopes(scopes []string) []string {
	rs := resourceScopes(scopes)
	if len(rs) == 0 {
		return scopes
	}
	last := scopeResource(rs[len(rs)-1])
	return slices.DeleteFunc(rs, func(s string) bool { return scopeResource(s) != last })
}

// scopeResource is the resource a scope belongs to: what precedes its last slash
// ("api://{client id}/ToDoList.Read"), Microsoft Graph for a bare name ("User.Read").
func scopeResource(scope string) string {
	i := strings.LastIndexByte(scope, '/')
	if i < 0 {
		return "https://graph.microsoft.com"
	}
	return strings.ToLower(scope[:i])
}
