package ginidentity

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
)

// Defaults of WebAppOptions.
const (
	DefaultSignInPath         = "/auth/signin"
	DefaultSignOutPath        = "/auth/signout"
	DefaultSignInFlowLifetime = 15 * time.Minute
	// DefaultCodeRedemptionTimeout bounds the redemption of a sign-in's code and the fetch of the signing keys.
	DefaultCodeRedemptionTimeout = 30 * time.Second
)

// Response modes of the authorize request.
const (
	ResponseModeFormPost = "form_post"
	ResponseModeQuery    = "query"
)

// WebAppOptions configures NewWebApp. A nil *WebAppOptions, like every zero field, means the defaults, except
// that a session key is required: set SessionKeys, or GenerateDevelopmentSessionKeys on a developer's machine.
type WebAppOptions struct {
	// TokenAcquirer redeems the sign-in codes and keeps each user's tokens in its cache. nil: one is built from
	// the Config with HTTPClient (NewTokenAcquirer).
	TokenAcquirer *TokenAcquirer
	// HTTPClient fetches the discovery document and the signing keys that validate ID tokens, and is the
	// acquirer's client when TokenAcquirer is nil. nil: a client with a 30 second timeout.
	HTTPClient *http.Client

	// Scopes are requested at sign-in besides openid, profile and offline_access, so that their consent is
	// asked at once. Default: Microsoft Graph's User.Read, the permission every app registration starts with
	// (MSAL Go redeems a code only for a resource scope). Scopes needed later are asked when needed
	// (RequireScopes, Challenge).
	Scopes []string
	// ResponseMode is how the authorize endpoint returns the code: ResponseModeFormPost (the default, as
	// Microsoft.Identity.Web: the code never appears in a URL) or ResponseModeQuery.
	ResponseMode string
	// SignInPath and SignOutPath are the app's sign-in and sign-out routes (default /auth/signin and
	// /auth/signout). The callbacks are AzureAd:CallbackPath and AzureAd:SignedOutCallbackPath.
	SignInPath, SignOutPath string
	// SignInFlowLifetime is how long a user has to complete a sign-in at the identity provider (default 15
	// minutes).
	SignInFlowLifetime time.Duration

	// SessionStore keeps the signed-in user's session: any gin-contrib/sessions store (Redis, memcached,
	// a database...). nil: the session is kept whole in a cookie, authenticated and encrypted with SessionKeys.
	// A session holds who the user is (oid, tid, name, preferred_username and a few claims), never a token.
	SessionStore sessions.Store
	// SessionName is the session's cookie name (default "ginidentity").
	SessionName string
	// SessionLifetime is how long a sign-in lasts (default 8 hours).
	SessionLifetime time.Duration
	// SessionKeys are secrets of at least 32 random bytes (ParseSessionKeys reads them from configuration):
	// the first seals new session cookies and sign-in state, the others still open what they sealed, for
	// rotation. Every instance of the app needs the same keys.
	SessionKeys [][]byte
	// GenerateDevelopmentSessionKeys, when SessionKeys is empty, generates a key for this process and logs a
	// warning: every sign-in ends when the process stops and no other instance accepts it. For a developer's
	// machine only.
	GenerateDevelopmentSessionKeys bool

	// TrustForwardedHeaders builds redirect URIs from X-Forwarded-Proto and X-Forwarded-Host when a request
	// comes from one of TrustedProxies (CIDR prefixes or addresses), as behind a reverse proxy that
	// terminates TLS. Off by default: anyone could forge those headers.
	TrustForwardedHeaders bool
	TrustedProxies        []string

	// ClockSkew is the tolerance on the ID token's times (default 5 minutes).
	ClockSkew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives sign-in failures and warnings, never a token (default slog.Default()).
	Logger *slog.Logger
}

// WebApp signs users into a Gin web app with Microsoft Entra ID (OpenID Connect authorization code flow with
// PKCE, through the TokenAcquirer) and keeps them signed in with a session. Build it with NewWebApp, register
// its routes with RegisterRoutes, then protect routes with RequireSignIn or RequireScopes; Middleware makes
// the signed-in user (if any) known to public routes too.
type WebApp struct {
	acquirer *TokenAcquirer
	idTokens *idTokenValidator
	sessions *sessionManager
	sealer   *sealer
	origin   originResolver

	clientID                    string
	logoutEndpoint              string
	signInPath, signOutPath     string
	callbackPath, signedOutPath string
	scopes                      []string
	responseMode                string
	flowLifetime                time.Duration
	now                         func() time.Time
	logger                      *slog.Logger
	redemptionTimeout           time.Duration
}

// NewWebApp checks the configuration as a web app's (Config.ValidateWebApp) and the options, reporting every
// problem at once with its fix, and prepares sign-in. It fetches nothing: the first sign-in does.
func NewWebApp(cfg *Config, opts *WebAppOptions) (*WebApp, error) {
	if cfg == nil {
		return nil, errors.New("ginidentity: NewWebApp: the Config is nil: load it with LoadConfig")
	}
	if opts == nil {
		opts = &WebAppOptions{}
	}
	var errs []error
	if err := cfg.ValidateWebApp(); err != nil {
		errs = append(errs, err)
	}
	bad := func(field, problem, fix string) { errs = append(errs, &webAppOptionError{field, problem, fix}) }

	o := *opts
	setDefault(&o.SignInPath, DefaultSignInPath)
	setDefault(&o.SignOutPath, DefaultSignOutPath)
	setDefault(&o.SessionName, DefaultSessionName)
	setDefault(&o.ResponseMode, ResponseModeFormPost)
	if o.ResponseMode != ResponseModeFormPost && o.ResponseMode != ResponseModeQuery {
		bad("ResponseMode", fmt.Sprintf("is %q", o.ResponseMode), `use "form_post" (the default) or "query"`)
	}
	// The callback paths' form is checked by ValidateWebApp; here, that each route has its own path and
	// none holds what Gin reads as a parameter or wildcard.
	paths := map[string]string{}
	for _, p := range []struct {
		name, value string
		option      bool
	}{
		{"SignInPath", o.SignInPath, true}, {"SignOutPath", o.SignOutPath, true},
		{"AzureAd:CallbackPath", cfg.AzureAd.CallbackPath, false}, {"AzureAd:SignedOutCallbackPath", cfg.AzureAd.SignedOutCallbackPath, false},
	} {
		problem, fix := "", ""
		if other, dup := paths[p.value]; dup {
			problem, fix = fmt.Sprintf("%q is also %s", p.value, other), "give each sign-in route its own path"
		} else if !strings.HasPrefix(p.value, "/") || strings.HasPrefix(p.value, "//") || strings.ContainsAny(p.value, "?#:* \t") {
			problem, fix = fmt.Sprintf("%q is not a route path", p.value), "use a path such as /auth/signin, without query, parameters or wildcards"
		}
		paths[p.value] = p.name
		switch {
		case problem == "":
		case p.option:
			bad(p.name, problem, fix)
		default:
			errs = append(errs, &ConfigError{Field: p.name, Problem: problem, Fix: fix})
		}
	}
	if !validCookieName(o.SessionName) {
		bad("SessionName", fmt.Sprintf("%q is not a cookie name", o.SessionName), "use letters, digits, '.', '-' or '_'")
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"SessionLifetime", &o.SessionLifetime, DefaultSessionLifetime},
		{"SignInFlowLifetime", &o.SignInFlowLifetime, DefaultSignInFlowLifetime},
		{"ClockSkew", &o.ClockSkew, DefaultClockSkew},
	}
	for _, d := range durations {
		if *d.v < 0 {
			bad(d.name, fmt.Sprintf("is negative (%v)", *d.v), fmt.Sprintf("leave it zero for the default of %v, or set a positive duration", d.def))
		} else if *d.v == 0 {
			*d.v = d.def
		}
	}
	if len(o.Scopes) == 0 {
		o.Scopes = []string{DefaultGraphScope}
	}
	for i, s := range o.Scopes {
		if !validScope(s) {
			bad(fmt.Sprintf("Scopes[%d]", i), fmt.Sprintf("%q is not a scope", s), `use a scope such as "User.Read" or "api://{client id}/access_as_user"`)
		}
	}
	switch {
	case len(o.SessionKeys) > 0 && o.GenerateDevelopmentSessionKeys:
		bad("GenerateDevelopmentSessionKeys", "is set while SessionKeys is not empty", "remove one of them: generated keys are for a developer's machine only")
	case len(o.SessionKeys) == 0 && !o.GenerateDevelopmentSessionKeys:
		bad("SessionKeys", "is empty", "set at least one secret of 32 random bytes or more (ParseSessionKeys reads `openssl rand -base64 32`), the same on every instance; on a developer's machine, GenerateDevelopmentSessionKeys generates one")
	}
	for i, k := range o.SessionKeys {
		if len(k) < minSessionKeyBytes {
			bad(fmt.Sprintf("SessionKeys[%d]", i), fmt.Sprintf("is %d bytes long", len(k)), "use at least 32 random bytes (`openssl rand -base64 32`)")
		}
	}
	origin, originErrs := newOriginResolver(o.TrustForwardedHeaders, o.TrustedProxies)
	errs = append(errs, originErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultCodeRedemptionTimeout}
	}
	if o.GenerateDevelopmentSessionKeys {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		o.SessionKeys = [][]byte{key}
		o.Logger.Warn("ginidentity: DEVELOPMENT session keys generated for this process (WebAppOptions.GenerateDevelopmentSessionKeys): " +
			"sign-ins end when it stops and no other instance accepts them; set WebAppOptions.SessionKeys in production")
	}
	acquirer := o.TokenAcquirer
	if acquirer == nil {
		var err error
		if acquirer, err = NewTokenAcquirer(cfg, &AcquirerOptions{HTTPClient: o.HTTPClient, Logger: o.Logger}); err != nil {
			return nil, err
		}
	}
	seal, err := newSealer(o.SessionKeys, o.Now)
	if err != nil {
		return nil, err
	}
	store := o.SessionStore
	if store == nil {
		store = newCookieSessionStore(o.SessionKeys, o.SessionLifetime)
	}
	authority := cfg.AzureAd.AuthorityURL()
	idTokens, err := newIDTokenValidator(o.HTTPClient, authority, cfg.AzureAd.ClientID, o.ClockSkew, o.Now, o.Logger)
	if err != nil {
		return nil, err
	}
	return &WebApp{
		acquirer:          acquirer,
		idTokens:          idTokens,
		sessions:          &sessionManager{store: store, name: o.SessionName, lifetime: o.SessionLifetime, now: o.Now},
		sealer:            seal,
		origin:            origin,
		clientID:          cfg.AzureAd.ClientID,
		logoutEndpoint:    authority + "/oauth2/v2.0/logout",
		signInPath:        o.SignInPath,
		signOutPath:       o.SignOutPath,
		callbackPath:      cfg.AzureAd.CallbackPath,
		signedOutPath:     cfg.AzureAd.SignedOutCallbackPath,
		scopes:            append([]string(nil), o.Scopes...),
		responseMode:      o.ResponseMode,
		flowLifetime:      o.SignInFlowLifetime,
		now:               o.Now,
		logger:            o.Logger,
		redemptionTimeout: DefaultCodeRedemptionTimeout,
	}, nil
}

// TokenAcquirer is the acquirer that keeps the signed-in users' tokens: call TokenForUser with the request's
// context to call an API as the user.
func (a *WebApp) TokenAcquirer() *TokenAcquirer { return a.acquirer }

// RegisterRoutes adds the sign-in routes to r: GET SignInPath, the callback at AzureAd:CallbackPath (GET for
// response_mode=query, POST for form_post), SignOutPath (GET or POST) and AzureAd:SignedOutCallbackPath.
func (a *WebApp) RegisterRoutes(r gin.IRoutes) {
	r.GET(a.signInPath, a.handleSignIn)
	r.GET(a.callbackPath, a.handleCallback)
	r.POST(a.callbackPath, a.handleCallback)
	r.GET(a.signOutPath, a.handleSignOut)
	r.POST(a.signOutPath, a.handleSignOut)
	r.GET(a.signedOutPath, a.handleSignedOut)
}

// Middleware reads the session of every request: when a user is signed in, their claims are reachable
// through ClaimsFrom(c) and ClaimsFromContext(c.Request.Context()) (with an empty RawToken: a web-app user),
// and TokenForUser acquires tokens for them. It lets every request through; RequireSignIn and RequireScopes
// decide which need a user, and read the session themselves when Middleware is not installed.
func (a *WebApp) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		a.authenticate(c)
		c.Next()
	}
}

// webAppKey holds the *WebApp that authenticated the request; sessionUserKey its *sessionUser (nil when
// nobody is signed in); sessionErrKey the error of a session store that failed (nil otherwise).
var (
	webAppKey      = &contextKey{"webapp"}
	sessionUserKey = &contextKey{"webapp-user"}
	sessionErrKey  = &contextKey{"webapp-session-error"}
)

// authenticate reads the session once per request and puts the user's claims in the contexts. When the
// session store fails, nobody is signed in for this request and the error is kept for sessionUnavailable:
// a public page still renders, a page needing the user answers 503.
func (a *WebApp) authenticate(c *gin.Context) *sessionUser {
	if v, ok := c.Get(sessionUserKey); ok {
		u, _ := v.(*sessionUser)
		return u
	}
	c.Set(webAppKey, a)
	_, u, err := a.sessions.load(c.Request)
	if err != nil {
		_ = c.Error(err)
		a.logger.Warn("ginidentity: the session store is unavailable: nobody is signed in for this request", "path", c.Request.URL.Path, "err", err)
		c.Set(sessionErrKey, err)
	}
	c.Set(sessionUserKey, u)
	if u != nil {
		setRequestClaims(c, NewClaims(u.Claims, ""))
	}
	return u
}

// webAppFrom returns the WebApp that authenticated the request.
func webAppFrom(c *gin.Context) *WebApp {
	if v, ok := c.Get(webAppKey); ok {
		if a, ok := v.(*WebApp); ok {
			return a
		}
	}
	return nil
}

// absoluteURL is the URL of a path of this app as the browser reaches it.
func (a *WebApp) absoluteURL(r *http.Request, path string) string {
	scheme, host := a.origin.origin(r)
	return scheme + "://" + host + path
}

// isHTTPS reports whether the browser reached the app over https: cookies are then Secure.
func (a *WebApp) isHTTPS(r *http.Request) bool {
	scheme, _ := a.origin.origin(r)
	return scheme == "https"
}

// validScope accepts a scope as the authorize endpoint takes it: printable, without spaces or quotes.
func validScope(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func validCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
