package ginidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/gin-identity/kit/ginidentity/tokencache"
	"golang.org/x/sync/singleflight"
)

// TokenAcquirer gets access tokens through MSAL Go for the three callers of a server app: the signed-in
// user of a web app (silently, with the tokens the sign-in stored, refreshing them when needed), the caller
// of a web API (on behalf of the incoming token), and the app itself (client credentials). It keeps them in
// a token cache partitioned as Microsoft.Identity.Web's: one partition per user (home account id), per app
// and tenant, and, in process, per incoming token for on-behalf-of.
//
// It works around MSAL Go v1.10.1's defects for servers (see msalcache.go and obocache.go): an MSAL client
// per call sharing the store and one HTTP client (which caches discovery documents), a Replace that resets
// on a miss, an own cache for on-behalf-of tokens, and a sign-out that deletes the user's partition.
//
// A TokenAcquirer is safe for concurrent use.
type TokenAcquirer struct {
	clientID    string
	authority   string // https://host/{tenant}
	tenant      string // the configured tenant path segment
	multiTenant bool
	extraQuery  map[string]string // AzureAd:ExtraQueryParameters
	clientOpts  []confidential.Option

	creds   []clientCredential
	current atomic.Int32 // the credential that worked last

	store             tokencache.Store
	index             *tokenIndex
	obo               *oboCache
	removed           tombstones
	flights           singleflight.Group
	logger            *slog.Logger
	now               func() time.Time
	customClock       bool
	userCacheLifetime time.Duration

	// naive turns workarounds off, for the tests that prove each is needed. Always zero outside tests.
	naive msalNaive
}

// msalNaive uses MSAL Go as documented, without a workaround. Each field turns one off.
type msalNaive struct {
	sharedClient  *confidential.Client // one long-lived client with one cache for every user call
	noReset       bool                 // Replace leaves MSAL's memory as it is on a miss
	oboWithCache  bool                 // on-behalf-of through MSAL's WithCache, without the own cache
	removeAccount bool                 // RemoveUser through MSAL's RemoveAccount
	noIndex       bool                 // every cached token through MSAL
}

// oidcScopes are the scopes MSAL adds to every request itself: passing them makes it report them declined.
var oidcScopes = []string{"openid", "profile", "offline_access"}

// NewTokenAcquirer checks the AzureAd section (ClientId, a tenant, at least one usable client credential)
// and returns an acquirer. opts may be nil. Every problem is reported at once, each naming its setting.
func NewTokenAcquirer(cfg *Config, opts *AcquirerOptions) (*TokenAcquirer, error) {
	if cfg == nil {
		return nil, errors.New("ginidentity: NewTokenAcquirer: the configuration is nil: load it with LoadConfig")
	}
	if opts == nil {
		opts = &AcquirerOptions{}
	}
	ad := cfg.AzureAd // a copy: the caller's configuration is left as it is
	setDefault(&ad.CallbackPath, DefaultCallbackPath)
	setDefault(&ad.SignedOutCallbackPath, DefaultSignedOutCallbackPath)
	v := &validator{sources: cfg.sources}
	v.identity(ad, roleAny)
	v.azureAdForm(ad)
	if err := errors.Join(v.errs...); err != nil {
		return nil, fmt.Errorf("ginidentity: NewTokenAcquirer: %w", err)
	}
	var errs []error
	for _, o := range []struct {
		name string
		neg  bool
	}{
		{"UserCacheLifetime", opts.UserCacheLifetime < 0}, {"OnBehalfOfCacheEntries", opts.OnBehalfOfCacheEntries < 0},
		{"IndexEntries", opts.IndexEntries < 0}, {"DiscoveryCacheTTL", opts.DiscoveryCacheTTL < 0},
	} {
		if o.neg {
			errs = append(errs, fmt.Errorf("ginidentity: AcquirerOptions.%s is negative: use a positive value, or 0 for the default", o.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	a := &TokenAcquirer{
		clientID:          ad.ClientID,
		authority:         ad.AuthorityURL(),
		tenant:            ad.Tenant(),
		multiTenant:       ad.IsMultiTenant(),
		extraQuery:        maps.Clone(ad.ExtraQueryParameters),
		store:             opts.Store,
		logger:            opts.Logger,
		now:               opts.Now,
		customClock:       opts.Now != nil,
		userCacheLifetime: cmpOr(opts.UserCacheLifetime, DefaultUserCacheLifetime),
		index:             newTokenIndex(cmpOr(opts.IndexEntries, DefaultIndexEntries), opts.Store == nil),
		obo:               newOBOCache(cmpOr(opts.OnBehalfOfCacheEntries, DefaultOnBehalfOfCacheEntries)),
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.store == nil {
		mo := opts.MemoryStore
		if mo.Clock == nil {
			mo.Clock = opts.Now
		}
		mem, err := tokencache.NewMemory(mo)
		if err != nil {
			return nil, fmt.Errorf("ginidentity: NewTokenAcquirer: AcquirerOptions.MemoryStore: %w", err)
		}
		a.store = mem
	}
	creds, err := loadCredentials(ad, a.now(), a.logger)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: NewTokenAcquirer: %w", err)
	}
	a.creds = creds

	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	a.clientOpts = []confidential.Option{
		confidential.WithHTTPClient(&msalHTTPClient{next: httpClient, ttl: cmpOr(opts.DiscoveryCacheTTL, DefaultDiscoveryCacheTTL),
			now: a.now, docs: map[string]*discoveryDoc{}}),
		// MSAL validates an authority through Microsoft's instance discovery, which knows Microsoft's clouds only.
		confidential.WithInstanceDiscovery(isMicrosoftCloud(a.authority)),
	}
	if len(ad.ClientCapabilities) > 0 {
		a.clientOpts = append(a.clientOpts, confidential.WithClientCapabilities(ad.ClientCapabilities))
	}
	if sendX5C(ad) {
		a.clientOpts = append(a.clientOpts, confidential.WithX5C())
	}
	// Fail now, not on the first request, if MSAL refuses the authority.
	if _, err := a.newClient(a.creds[0], nil); err != nil {
		return nil, fmt.Errorf("ginidentity: NewTokenAcquirer: MSAL refuses the authority %s: %w", a.authority, err)
	}
	return a, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// microsoftHosts are the sign-in hosts of Microsoft's clouds, which MSAL's instance discovery knows.
var microsoftHosts = []string{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
	"login.microsoftonline.us", "login.usgovcloudapi.net", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
	"login.microsoftonline.de"}

func isMicrosoftCloud(authority string) bool {
	u, err := url.Parse(authority)
	return err == nil && slices.Contains(microsoftHosts, strings.ToLower(u.Hostname()))
}

// newClient makes the MSAL client of one call. cache nil means no external cache.
func (a *TokenAcquirer) newClient(cred clientCredential, cache *msalCache) (confidential.Client, error) {
	opts := a.clientOpts
	if cache != nil {
		opts = append(slices.Clip(opts), confidential.WithCache(cache))
	}
	return confidential.New(a.authority, a.clientID, cred.cred, opts...)
}

// newCache makes the cache adapter of one call. When forcing a refresh it hides from MSAL the access tokens
// covering forceScopes.
func (a *TokenAcquirer) newCache(forceScopes []string) *msalCache {
	return &msalCache{a: a, started: a.removed.start(), dropScopes: forceScopes, shift: int64(a.skew() / time.Second),
		naive: a.naive.noReset}
}

// skew is how far the acquirer's clock is ahead of the system clock MSAL Go reads: 0 unless
// AcquirerOptions.Now is set. Times MSAL returns are moved by it.
func (a *TokenAcquirer) skew() time.Duration {
	if !a.customClock {
		return 0
	}
	return time.Until(a.now()).Truncate(time.Second)
}

// withCredential runs a call with the app's credentials in order, starting with the one that worked last:
// when Microsoft Entra ID refuses one (invalid_client), the next is tried.
func (a *TokenAcquirer) withCredential(call func(clientCredential) error) error {
	start := int(a.current.Load())
	var refused []string
	var lastErr *TokenEndpointError
	for i := range a.creds {
		idx := (start + i) % len(a.creds)
		cred := a.creds[idx]
		err := call(cred)
		te := tokenEndpointError(err)
		if !isInvalidClient(te) {
			if err == nil && idx != start {
				a.current.Store(int32(idx))
			}
			return err
		}
		a.logger.Warn("ginidentity: Microsoft Entra ID refused a client credential", "credential", cred.name,
			"source", string(cred.source), "error", te.Error())
		refused = append(refused, fmt.Sprintf("%s (%s): %s", cred.name, cred.source, te.Error()))
		lastErr = te
	}
	return &credentialsRefusedError{msg: fmt.Sprintf("Microsoft Entra ID refused every client credential of app %s [%s]: check the secrets and certificates on the app registration's Certificates & secrets page",
		a.clientID, strings.Join(refused, "; ")), last: lastErr}
}

// resourceScopes returns the scopes to pass MSAL: trimmed, without the OpenID Connect scopes MSAL adds.
func resourceScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s = strings.TrimSpace(s); s != "" && !slices.ContainsFunc(oidcScopes, func(o string) bool { return strings.EqualFold(o, s) }) {
			out = append(out, s)
		}
	}
	return out
}

func (a *TokenAcquirer) requestContext(ctx context.Context, o acquireOptions) context.Context {
	if len(a.extraQuery) == 0 && len(o.extraQuery) == 0 {
		return ctx
	}
	params := make(map[string]string, len(a.extraQuery)+len(o.extraQuery))
	for k, v := range a.extraQuery {
		params[k] = v
	}
	for k, v := range o.extraQuery {
		params[k] = v
	}
	return withExtraQuery(ctx, params)
}

// TokenForApp gets a token for the app itself (client credentials) for a resource's "/.default" scope,
// such as "https://graph.microsoft.com/.default" or "api://{client id}/.default", cached per tenant and
// resource. A multi-tenant app passes WithTenant.
func (a *TokenAcquirer) TokenForApp(ctx context.Context, scope string, opts ...AcquireOption) (Token, error) {
	o, err := applyAcquireOptions(opts)
	if err != nil {
		return Token{}, err
	}
	scope = strings.TrimSpace(scope)
	if !strings.HasSuffix(scope, "/.default") {
		return Token{}, fmt.Errorf("ginidentity: TokenForApp(%q): an app token is asked for a resource's /.default scope: pass %q", scope, strings.TrimRight(scope, "/")+"/.default")
	}
	tenant := cmpOrString(o.tenant, a.tenant)
	if isTenantAlias(tenant) {
		return Token{}, fmt.Errorf("ginidentity: TokenForApp(%q): app tokens come from one tenant, and the tenant is %q: pass WithTenant(tenant id) or set AzureAd:TenantId to your tenant", scope, tenant)
	}
	key := a.clientID + "_" + tenant + "_AppTokenCache" // MSAL's app partition key
	sk := a.index.scopes.key([]string{scope})
	if !o.forceRefresh && o.claims == "" && !a.naive.noIndex {
		if tok, ok := a.fromIndex(ctx, key, "", sk); ok {
			return tok, nil
		}
	}
	var force []string
	if o.forceRefresh {
		force = []string{scope}
	}
	return a.shared(ctx, fmt.Sprintf("app|%s|%s|%t|%s", key, sk, o.forceRefresh, o.claims), func(ctx context.Context) (Token, error) {
		var res confidential.AuthResult
		var cache *msalCache
		err := a.withCredential(func(cred clientCredential) error {
			cache = a.newCache(force)
			client, err := a.newClient(cred, cache)
			if err != nil {
				return err
			}
			var callOpts []confidential.AcquireByCredentialOption
			if o.tenant != "" {
				callOpts = append(callOpts, confidential.WithTenantID(o.tenant))
			}
			if o.claims != "" {
				callOpts = append(callOpts, confidential.WithClaims(o.claims))
			}
			res, err = client.AcquireTokenByCredential(a.requestContext(ctx, o), []string{scope}, callOpts...)
			return err
		})
		if err != nil {
			return Token{}, fmt.Errorf("ginidentity: cannot get an app token for %s in tenant %s: %w", scope, tenant, describeMSALError(err))
		}
		a.indexResult(cache, key, "", sk, res)
		return a.tokenFrom(res, o.tenant), nil
	})
}

// shared runs call once for concurrent calls with the same key and gives each caller its result: a burst
// of requests of one user after a token expired makes one refresh. A caller whose context is still alive
// when the call it joined was canceled makes its own.
func (a *TokenAcquirer) shared(ctx context.Context, key string, call func(context.Context) (Token, error)) (Token, error) {
	if a.naive.sharedClient != nil {
		return call(ctx)
	}
	ch := a.flights.DoChan(key, func() (any, error) { return call(ctx) })
	select {
	case r := <-ch:
		tok, _ := r.Val.(Token)
		if r.Shared && r.Err != nil && ctx.Err() == nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
			return call(ctx)
		}
		tok.Scopes = slices.Clone(tok.Scopes)
		return tok, r.Err
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

func cmpOrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func isTenantAlias(t string) bool {
	return strings.EqualFold(t, "common") || strings.EqualFold(t, "organizations") || strings.EqualFold(t, "consumers")
}

// tokenFrom describes MSAL's result on the acquirer's clock, with the resource scopes it granted.
func (a *TokenAcquirer) tokenFrom(res confidential.AuthResult, tenant string) Token {
	return Token{AccessToken: res.AccessToken, ExpiresOn: res.ExpiresOn.Add(a.skew()), Scopes: resourceScopes(res.GrantedScopes),
		TenantID: tenant, FromCache: res.Metadata.TokenSource == confidential.TokenSourceCache}
}

// indexResult indexes the token MSAL returned, found in the partition the call read or wrote, unless the
// partition was removed meanwhile.
func (a *TokenAcquirer) indexResult(cache *msalCache, key, tenant, sk string, res confidential.AuthResult) {
	if a.naive.noIndex || cache == nil {
		return
	}
	seenKey, data, _ := cache.observed()
	if seenKey != key || data == nil {
		return
	}
	tok := a.tokenFrom(res, tenant)
	var refreshOn int64
	if !res.Metadata.RefreshOn.IsZero() {
		refreshOn = res.Metadata.RefreshOn.Add(a.skew()).Unix()
	}
	a.index.put(key, data, res.AccessToken, indexedToken{tenant: tenant, set: a.index.scopes.set(sk, tok.Scopes),
		expires: tok.ExpiresOn.Unix(), refreshOn: refreshOn}, func() bool { return a.removed.since(key, cache.started) })
}

// userToken gets a token for the signed-in user whose tokens are in the partition homeAccountID: from the
// index, else through MSAL's silent call, which refreshes the token when needed.
func (a *TokenAcquirer) userToken(ctx context.Context, homeAccountID string, scopes []string, o acquireOptions) (Token, error) {
	if o.claims != "" {
		return Token{}, &InteractionRequiredError{Scopes: scopes, Claims: o.claims,
			Reason: "a claims challenge: the user must sign in again to satisfy it (MSAL Go cannot send claims with a refresh token)"}
	}
	sk := a.index.scopes.key(scopes)
	if !o.forceRefresh && !a.naive.noIndex && a.naive.sharedClient == nil {
		if tok, ok := a.fromIndex(ctx, homeAccountID, o.tenant, sk); ok {
			return tok, nil
		}
	}
	var force []string
	if o.forceRefresh {
		force = scopes
	}
	return a.shared(ctx, fmt.Sprintf("user|%s|%s|%s|%t", homeAccountID, o.tenant, sk, o.forceRefresh), func(ctx context.Context) (Token, error) {
		var res confidential.AuthResult
		var cache *msalCache
		err := a.withCredential(func(cred clientCredential) error {
			client := a.naive.sharedClient
			if client == nil {
				cache = a.newCache(force)
				c, err := a.newClient(cred, cache)
				if err != nil {
					return err
				}
				client = &c
			}
			var err error
			res, err = client.AcquireTokenSilent(a.requestContext(ctx, o), scopes,
				confidential.WithSilentAccount(confidential.Account{HomeAccountID: homeAccountID}), confidential.WithTenantID(o.tenant))
			return err
		})
		if err != nil {
			if cache != nil {
				if _, _, missed := cache.observed(); missed {
					return Token{}, &InteractionRequiredError{Scopes: scopes, Reason: "the user's tokens are not in the token cache (signed out, or evicted)"}
				}
			}
			return Token{}, a.userError("the user", scopes, err)
		}
		a.indexResult(cache, homeAccountID, o.tenant, sk, res)
		return a.tokenFrom(res, o.tenant), nil
	})
}

// userError maps an error of a call for a user: *InteractionRequiredError when the user must act.
func (a *TokenAcquirer) userError(who string, scopes []string, err error) error {
	te := tokenEndpointError(err)
	if reason := interactionReason(te); reason != "" {
		return &InteractionRequiredError{Scopes: scopes, Claims: te.Claims, Reason: reason, Err: te}
	}
	if te == nil && err.Error() == "no token found" { // MSAL's silent call found neither access nor refresh token
		return &InteractionRequiredError{Scopes: scopes, Reason: "no refresh token for the user in the token cache"}
	}
	return fmt.Errorf("ginidentity: cannot get a token for %s for %s: %w", who, strings.Join(scopes, " "), describeMSALError(err))
}

// onBehalfOf exchanges the incoming token of a web API's caller for a token for the scopes, cached per
// incoming token until it expires. digest is the incoming token's (Claims.rawTokenDigest, computed once per
// validated token).
func (a *TokenAcquirer) onBehalfOf(ctx context.Context, assertion, digest, callerTenant string, scopes []string, o acquireOptions) (Token, error) {
	tenant := o.tenant
	if tenant == "" && a.multiTenant {
		tenant = callerTenant // a multi-tenant API asks the caller's tenant
	}
	key := oboKey(digest, tenant, scopesKey(scopes))
	if !o.forceRefresh && o.claims == "" && !a.naive.oboWithCache {
		if tok, ok := a.obo.get(key, a.now()); ok {
			return tok, nil
		}
	}
	return a.shared(ctx, fmt.Sprintf("obo|%s|%t|%s", key, o.forceRefresh, o.claims), func(ctx context.Context) (Token, error) {
		var res confidential.AuthResult
		err := a.withCredential(func(cred clientCredential) error {
			var cache *msalCache
			if a.naive.oboWithCache {
				cache = a.newCache(nil)
			}
			client, err := a.newClient(cred, cache) // no WithCache: MSAL's on-behalf-of cache is broken
			if err != nil {
				return err
			}
			callOpts := []confidential.AcquireOnBehalfOfOption{confidential.WithTenantID(tenant)}
			if o.claims != "" {
				callOpts = append(callOpts, confidential.WithClaims(o.claims))
			}
			res, err = client.AcquireTokenOnBehalfOf(a.requestContext(ctx, o), assertion, scopes, callOpts...)
			return err
		})
		if err != nil {
			return Token{}, a.userError("the web API's caller (on-behalf-of)", scopes, err)
		}
		tok := a.tokenFrom(res, tenant)
		if !a.naive.oboWithCache {
			a.obo.put(key, tok, a.now())
		}
		return tok, nil
	})
}

// AuthorizeRequest describes a trip to the authorize endpoint: a sign-in, or incremental consent.
type AuthorizeRequest struct {
	RedirectURI   string   // required: the app's callback, registered on the app registration
	Scopes        []string // resource scopes to consent to; openid, profile and offline_access are always asked
	State         string   // required: binds the answer to the browser
	Nonce         string   // binds the ID token to this request
	CodeChallenge string   // required: the PKCE S256 challenge of the verifier RedeemCode will send
	ResponseMode  string   // "form_post" (default) or "query"
	Prompt        string   // "", none, login, select_account, consent or create
	LoginHint     string
	DomainHint    string
	Claims        string     // a claims challenge to satisfy (JSON or its base64)
	Extra         url.Values // more query parameters; they cannot replace the ones above
}

// reservedAuthorizeParams are the parameters AuthorizeRequest sets and Extra cannot replace.
var reservedAuthorizeParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "response_mode", "prompt", "login_hint", "domain_hint", "claims"}

// AuthorizeURL returns the URL of the authorize endpoint for a sign-in with the authorization code flow and
// PKCE. MSAL Go's own URL has no state, nonce, PKCE challenge or response mode: they are added here.
func (a *TokenAcquirer) AuthorizeURL(ctx context.Context, r AuthorizeRequest) (string, error) {
	claims, err := decodeClaims(r.Claims)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(r.RedirectURI); r.RedirectURI == "" || err != nil || !u.IsAbs() {
		errs = append(errs, errors.New("ginidentity: AuthorizeRequest.RedirectURI must be the app's absolute callback URL, such as https://app.contoso.com/signin-oidc"))
	}
	if r.State == "" {
		errs = append(errs, errors.New("ginidentity: AuthorizeRequest.State is required: a random value bound to the browser"))
	}
	if r.CodeChallenge == "" {
		errs = append(errs, errors.New("ginidentity: AuthorizeRequest.CodeChallenge is required: the S256 PKCE challenge of the verifier RedeemCode will send"))
	}
	mode := cmpOrString(r.ResponseMode, "form_post")
	if mode != "form_post" && mode != "query" {
		errs = append(errs, fmt.Errorf("ginidentity: AuthorizeRequest.ResponseMode %q: use form_post or query", r.ResponseMode))
	}
	if !slices.Contains([]string{"", "none", "login", "select_account", "consent", "create"}, r.Prompt) {
		errs = append(errs, fmt.Errorf("ginidentity: AuthorizeRequest.Prompt %q: use none, login, select_account, consent or create", r.Prompt))
	}
	for k := range r.Extra {
		if slices.Contains(reservedAuthorizeParams, strings.ToLower(k)) {
			errs = append(errs, fmt.Errorf("ginidentity: AuthorizeRequest.Extra sets %q: use the field of AuthorizeRequest instead", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	scopes := append(slices.Clone(oidcScopes), resourceScopes(r.Scopes)...)
	client, err := a.newClient(a.creds[a.current.Load()], nil)
	if err != nil {
		return "", err
	}
	var opts []confidential.AuthCodeURLOption
	if r.LoginHint != "" {
		opts = append(opts, confidential.WithLoginHint(r.LoginHint))
	}
	if r.DomainHint != "" {
		opts = append(opts, confidential.WithDomainHint(r.DomainHint))
	}
	if claims != "" {
		opts = append(opts, confidential.WithClaims(claims)) // MSAL merges the client capabilities in
	}
	raw, err := client.AuthCodeURL(ctx, a.clientID, r.RedirectURI, scopes, opts...)
	if err != nil {
		return "", fmt.Errorf("ginidentity: cannot build the authorize URL (tenant discovery at %s): %w", a.authority, describeMSALError(err))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ginidentity: MSAL built an invalid authorize URL: %w", err)
	}
	q := u.Query()
	for k, v := range a.extraQuery {
		q.Set(k, v)
	}
	for k, vs := range r.Extra {
		q[k] = slices.Clone(vs)
	}
	q.Set("state", r.State)
	if r.Nonce != "" {
		q.Set("nonce", r.Nonce)
	}
	q.Set("code_challenge", r.CodeChallenge)
	q.Set("code_challenge_method", "S256")
	q.Set("response_mode", mode)
	if r.Prompt != "" {
		q.Set("prompt", r.Prompt)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// RedeemRequest is the answer of the authorize endpoint to redeem.
type RedeemRequest struct {
	Code         string
	RedirectURI  string   // the same as in the AuthorizeRequest
	Scopes       []string // the resource scopes asked at the authorize endpoint
	CodeVerifier string   // the PKCE verifier of the CodeChallenge
}

// Redemption is what a redeemed code gives. The tokens are stored in the user's cache partition.
type Redemption struct {
	// IDToken is the raw ID token. MSAL Go does not validate it: the caller must (signature, iss, aud, nonce,
	// exp) before trusting anything in it.
	IDToken string
	// HomeAccountID names the user's cache partition ("oid.tid" of the user's home tenant): keep it in the
	// session and pass it to RemoveUser at sign-out.
	HomeAccountID string
	// Token is the access token for the scopes of the request.
	Token Token
}

// RedeemCode redeems an authorization code (with its PKCE verifier) and stores the user's tokens in the
// user's partition of the token cache.
func (a *TokenAcquirer) RedeemCode(ctx context.Context, r RedeemRequest) (*Redemption, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"Code", r.Code}, {"RedirectURI", r.RedirectURI}, {"CodeVerifier", r.CodeVerifier}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("ginidentity: RedeemCode: RedeemRequest.%s is required", strings.Join(missing, ", RedeemRequest."))
	}
	scopes := resourceScopes(r.Scopes)
	var res confidential.AuthResult
	var cache *msalCache
	err := a.withCredential(func(cred clientCredential) error {
		cache = a.newCache(nil)
		client, err := a.newClient(cred, cache)
		if err != nil {
			return err
		}
		res, err = client.AcquireTokenByAuthCode(ctx, r.Code, r.RedirectURI, scopes, confidential.WithChallenge(r.CodeVerifier))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ginidentity: cannot redeem the authorization code: %w", describeMSALError(err))
	}
	id := res.Account.HomeAccountID
	if id == "" {
		id, _, _ = cache.observed() // no ID token: the partition MSAL wrote is named after client_info
	}
	a.indexResult(cache, id, "", a.index.scopes.key(scopes), res)
	return &Redemption{IDToken: res.IDToken.RawToken, HomeAccountID: id, Token: a.tokenFrom(res, "")}, nil
}

// RemoveUser deletes the user's partition of the token cache (sign-out). MSAL Go's RemoveAccount cannot: it
// never touches the user's partition. A call for the user still running writes nothing back.
func (a *TokenAcquirer) RemoveUser(ctx context.Context, homeAccountID string) error {
	if homeAccountID == "" {
		return errors.New("ginidentity: RemoveUser: the home account id is empty: pass Redemption.HomeAccountID or Claims.HomeAccountID")
	}
	if a.naive.removeAccount {
		return a.naiveRemoveAccount(ctx, homeAccountID)
	}
	a.removed.add(homeAccountID) // before the index: see tokenIndex.put
	a.index.drop(homeAccountID)
	if err := a.store.Delete(ctx, homeAccountID); err != nil {
		return fmt.Errorf("ginidentity: RemoveUser: delete the user's tokens: %w", err)
	}
	return nil
}

// naiveRemoveAccount signs the user out as MSAL Go documents it, for the test that proves it removes nothing.
func (a *TokenAcquirer) naiveRemoveAccount(ctx context.Context, homeAccountID string) error {
	client, err := a.newClient(a.creds[0], a.newCache(nil))
	if err != nil {
		return err
	}
	acct, err := client.Account(ctx, homeAccountID)
	if err != nil {
		return err
	}
	if acct.IsZero() {
		acct = confidential.Account{HomeAccountID: homeAccountID}
	}
	return client.RemoveAccount(ctx, acct)
}
