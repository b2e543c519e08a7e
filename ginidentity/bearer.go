package ginidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Defaults of BearerOptions.
const (
	DefaultClockSkew                 = 5 * time.Minute
	DefaultMaxTokenBytes             = 32 << 10
	DefaultValidatedTokenCacheSize   = 10_000
	DefaultKeyRefreshInterval        = 12 * time.Hour
	DefaultUnknownKeyRefreshInterval = 5 * time.Minute
	DefaultKeyFetchTimeout           = 10 * time.Second
)

// BearerOptions configures NewBearerAuth: which Entra ID tenant issues the tokens and which API they are for.
// TenantID and ClientID are required; every zero value means the documented default.
type BearerOptions struct {
	// Instance is the Entra ID cloud, https://login.microsoftonline.com/ by default (AzureAd:Instance).
	Instance string
	// TenantID is the tenant whose tokens are accepted: a tenant id, a verified domain name, or "common" or
	// "organizations" for a multi-tenant API, which accepts tokens of any tenant (AzureAd:TenantId).
	TenantID string
	// ClientID is the web API's application (client) id (AzureAd:ClientId). v2.0 tokens must have it as
	// aud, v1.0 tokens api://{ClientID}.
	ClientID string
	// Audiences are further aud values accepted, such as a custom App ID URI (AzureAd:Audience, Audiences).
	Audiences []string
	// AllowedTenants, for a multi-tenant API, are the tenant ids whose tokens are accepted; empty: any.
	AllowedTenants []string
	// ClockSkew is the tolerance on exp and nbf (default 5 minutes).
	ClockSkew time.Duration
	// Now is the clock (default time.Now). It also paces the key refreshes.
	Now func() time.Time
	// HTTPClient fetches the discovery document and the signing keys (default: a client of its own).
	HTTPClient *http.Client
	// AllowedAlgorithms are the JWS algorithms accepted (default RS256, the only one Entra uses). Symmetric
	// algorithms and "none" are refused here: a web API must never accept them.
	AllowedAlgorithms []string
	// MaxTokenBytes refuses longer tokens before any parsing (default 32 KiB).
	MaxTokenBytes int
	// AllowWebAPIToBeAuthorizedByACL accepts tokens that carry neither scopes (scp) nor app roles (roles),
	// leaving the API to authorize callers by its own access-control list of client ids
	// (AzureAd:AllowWebApiToBeAuthorizedByACL). Unsafe unless the handlers check ClientID themselves.
	AllowWebAPIToBeAuthorizedByACL bool
	// ValidatedTokenCacheSize bounds the cache of validated tokens (default 10,000, about 2 KB each); a
	// negative value disables the cache.
	ValidatedTokenCacheSize int
	// KeyRefreshInterval is how old the signing keys may get before they are fetched again in the
	// background (default 12 hours).
	KeyRefreshInterval time.Duration
	// UnknownKeyRefreshInterval is how soon after the last fetch a token with an unknown kid may trigger
	// another (default 5 minutes): a flood of unknown kids costs one fetch per interval.
	UnknownKeyRefreshInterval time.Duration
	// KeyFetchTimeout bounds one fetch of the discovery document and the keys (default 10 seconds).
	KeyFetchTimeout time.Duration
	// Logger receives key-fetch failures and, at debug level, why tokens are refused (never the tokens).
	// Default: slog.Default().
	Logger *slog.Logger
	// OnError writes the response when a request is refused, by the middleware or by a policy. Default:
	// WriteBearerError. The chain is aborted after it whatever it does.
	OnError func(c *gin.Context, err *BearerError)
}

// BearerAuth authenticates the callers of a web API by their Entra ID access tokens. Build it once with
// NewBearerAuth and install Middleware on the routes to protect; policies (RequireScopes, RequireRoles,
// RequireScopeOrAppPermission) then decide what each route lets through.
type BearerAuth struct {
	validator *tokenValidator
	onError   func(*gin.Context, *BearerError)
	logger    *slog.Logger
}

var bearerAuthKey = &contextKey{"bearer-auth"}

// acceptedAlgorithms are the JWS algorithms AllowedAlgorithms may name.
var acceptedAlgorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
	jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA}

var tenantIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// NewBearerAuth checks the options (every problem at once, each a *ConfigError naming its fix) and prepares
// the validator. It does not fetch the signing keys: the first request does, or RefreshKeys.
func NewBearerAuth(opts BearerOptions) (*BearerAuth, error) {
	var errs []error
	bad := func(field, problem, fix string) {
		errs = append(errs, &ConfigError{Field: "BearerOptions." + field, Problem: problem, Fix: fix})
	}

	instance := opts.Instance
	if instance == "" {
		instance = DefaultInstance
	}
	u, err := url.Parse(instance)
	switch {
	case err != nil || u.Host == "":
		bad("Instance", fmt.Sprintf("%q is not a URL", opts.Instance), "use the cloud's sign-in URL, such as https://login.microsoftonline.com/")
	case u.Scheme != "https":
		bad("Instance", fmt.Sprintf("%q is not https", opts.Instance), "Entra ID is only reached over https")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "":
		bad("Instance", fmt.Sprintf("%q has a path", opts.Instance), "give the host only, such as https://login.microsoftonline.com/, and the tenant in TenantID")
	}
	tenant := strings.TrimSpace(opts.TenantID)
	switch {
	case tenant == "":
		bad("TenantID", "is required", "set the tenant id or domain (AzureAd:TenantId), or \"organizations\" for a multi-tenant API")
	case strings.ContainsAny(tenant, "/?#% "):
		bad("TenantID", fmt.Sprintf("%q is not a tenant", opts.TenantID), "set a tenant id, a domain name, \"common\" or \"organizations\"")
	}
	clientID := strings.TrimSpace(opts.ClientID)
	switch {
	case clientID == "":
		bad("ClientID", "is required", "set the web API's application (client) id (AzureAd:ClientId)")
	case strings.Contains(clientID, "://"):
		bad("ClientID", fmt.Sprintf("%q is a URI", opts.ClientID), "set the application (client) id and put the App ID URI in Audiences")
	}
	var allowedTenants map[string]bool
	for i, t := range opts.AllowedTenants {
		if !tenantIDPattern.MatchString(t) {
			bad(fmt.Sprintf("AllowedTenants[%d]", i), fmt.Sprintf("%q is not a tenant id", t), "list directory (tenant) ids, which are GUIDs; tokens carry no domain name")
			continue
		}
		if allowedTenants == nil {
			allowedTenants = map[string]bool{}
		}
		allowedTenants[strings.ToLower(t)] = true
	}
	for i, a := range opts.Audiences {
		if strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("Audiences[%d]", i), "is empty", "remove it or set the App ID URI tokens are issued for")
		}
	}
	algs := opts.AllowedAlgorithms
	if len(algs) == 0 {
		algs = []string{jwa.RS256.String()}
	}
	verifiers := map[jwa.SignatureAlgorithm]jws.Verifier{}
	for _, a := range algs {
		alg := jwa.SignatureAlgorithm(a)
		switch {
		case alg == jwa.NoSignature || alg == jwa.HS256 || alg == jwa.HS384 || alg == jwa.HS512:
			bad("AllowedAlgorithms", fmt.Sprintf("holds %q, which is unsigned or symmetric", a), "a web API must never accept it: list asymmetric algorithms such as RS256")
		case !slices.Contains(acceptedAlgorithms, alg):
			bad("AllowedAlgorithms", fmt.Sprintf("holds %q, which is not a JWS signature algorithm", a), "use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA")
		default:
			v, err := jws.NewVerifier(alg)
			if err != nil {
				bad("AllowedAlgorithms", fmt.Sprintf("holds %q, which cannot be verified: %v", a, err), "remove it")
				continue
			}
			verifiers[alg] = v
		}
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ClockSkew", &opts.ClockSkew, DefaultClockSkew},
		{"KeyRefreshInterval", &opts.KeyRefreshInterval, DefaultKeyRefreshInterval},
		{"UnknownKeyRefreshInterval", &opts.UnknownKeyRefreshInterval, DefaultUnknownKeyRefreshInterval},
		{"KeyFetchTimeout", &opts.KeyFetchTimeout, DefaultKeyFetchTimeout},
	}
	for _, d := range durations {
		if *d.v < 0 {
			bad(d.name, fmt.Sprintf("is negative (%v)", *d.v), fmt.Sprintf("leave it zero for the default of %v, or set a positive duration", d.def))
		} else if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.MaxTokenBytes < 0 {
		bad("MaxTokenBytes", fmt.Sprintf("is negative (%d)", opts.MaxTokenBytes), "leave it zero for the default of 32 KiB, or set a positive size")
	} else if opts.MaxTokenBytes == 0 {
		opts.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnError == nil {
		opts.OnError = WriteBearerError
	}
	instance = u.Scheme + "://" + u.Host + "/"
	v := &tokenValidator{
		verifiers:        verifiers,
		now:              opts.Now,
		clockSkew:        opts.ClockSkew,
		maxTokenBytes:    opts.MaxTokenBytes,
		clientID:         clientID,
		appIDURI:         "api://" + clientID,
		audiences:        slices.Clone(opts.Audiences),
		v1IssuerTemplate: v1IssuerTemplate(u.Hostname()),
		allowedTenants:   allowedTenants,
		allowACL:         opts.AllowWebAPIToBeAuthorizedByACL,
	}
	if opts.ValidatedTokenCacheSize >= 0 {
		size := opts.ValidatedTokenCacheSize
		if size == 0 {
			size = DefaultValidatedTokenCacheSize
		}
		v.cache = newValidatedTokens(size)
	}
	v.keys = &keySet{
		client:             opts.HTTPClient,
		metadataURL:        instance + tenant + "/v2.0/.well-known/openid-configuration",
		now:                opts.Now,
		logger:             opts.Logger,
		refreshInterval:    opts.KeyRefreshInterval,
		unknownKidInterval: opts.UnknownKeyRefreshInterval,
		fetchTimeout:       opts.KeyFetchTimeout,
	}
	if v.cache != nil {
		v.keys.onChange = v.cache.clear
	}
	return &BearerAuth{validator: v, onError: opts.OnError, logger: opts.Logger}, nil
}

// BearerOptionsFromConfig maps a web API's AzureAd section to BearerOptions: Instance (or the host of
// Authority), the tenant of TenantId or Authority, ClientId, Audience and Audiences, and
// AllowWebApiToBeAuthorizedByACL. Adjust the result (Logger, AllowedTenants...) before NewBearerAuth, or use
// NewBearerAuthFromConfig.
func BearerOptionsFromConfig(cfg *Config) BearerOptions {
	a := cfg.AzureAd
	var audiences []string
	if a.Audience != "" {
		audiences = append(audiences, a.Audience)
	}
	for _, aud := range a.Audiences {
		if aud != "" && !slices.Contains(audiences, aud) {
			audiences = append(audiences, aud)
		}
	}
	return BearerOptions{
		Instance:                       a.InstanceURL(),
		TenantID:                       a.Tenant(),
		ClientID:                       a.ClientID,
		Audiences:                      audiences,
		AllowWebAPIToBeAuthorizedByACL: a.AllowWebAPIToBeAuthorizedByACL,
	}
}

// NewBearerAuthFromConfig checks cfg as a web API's (Config.ValidateWebAPI: every problem at once, pointing
// at the setting to fix) and builds its BearerAuth with the defaults:
//
//	cfg, err := ginidentity.LoadConfig("appsettings.json")
//	...
//	auth, err := ginidentity.NewBearerAuthFromConfig(cfg)
func NewBearerAuthFromConfig(cfg *Config) (*BearerAuth, error) {
	if err := cfg.ValidateWebAPI(); err != nil {
		return nil, err
	}
	return NewBearerAuth(BearerOptionsFromConfig(cfg))
}

// v1IssuerTemplate is the issuer of v1.0 tokens in the cloud of the instance host.
func v1IssuerTemplate(host string) string {
	switch strings.ToLower(host) {
	case "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return "https://sts.chinacloudapi.cn/" + tenantIDTemplate + "/"
	}
	return "https://sts.windows.net/" + tenantIDTemplate + "/"
}

// Middleware authenticates every request by its bearer token: on success the claims are reachable through
// ClaimsFrom(c) and ClaimsFromContext(c.Request.Context()); otherwise OnError answers (401, or 503 while
// no signing key can be fetched) and the chain stops.
func (a *BearerAuth) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := bearerToken(c.Request.Header)
		if err == nil {
			var cl *Claims
			if cl, err = a.validator.validate(c.Request.Context(), token); err == nil {
				setRequestClaims(c, cl)
				c.Set(bearerAuthKey, a)
				c.Next()
				return
			}
		}
		a.refuse(c, bearerErrorFor(err))
	}
}

// ValidateToken checks an access token as the middleware does, for code outside Gin. Errors wrap
// ErrInvalidToken (or ErrTokenExpired) or ErrKeysUnavailable.
func (a *BearerAuth) ValidateToken(ctx context.Context, token string) (*Claims, error) {
	return a.validator.validate(ctx, token)
}

// RefreshKeys fetches the discovery document and the signing keys now and waits for them: call it at start
// to fail fast, or from a readiness probe. The middleware fetches them by itself when needed.
func (a *BearerAuth) RefreshKeys(ctx context.Context) error {
	return a.validator.keys.refresh(ctx)
}

// refuse answers through OnError and makes sure the chain stops even if OnError forgot to abort.
func (a *BearerAuth) refuse(c *gin.Context, e *BearerError) {
	if e.StatusCode != http.StatusServiceUnavailable {
		a.logger.Debug("ginidentity: request refused", "status", e.StatusCode, "reason", e.Description, "route", c.FullPath())
	}
	a.onError(c, e)
	if !c.IsAborted() {
		if c.Writer.Written() {
			c.Abort()
		} else {
			WriteBearerError(c, e)
		}
	}
}

// bearerToken extracts the token of the Authorization header (RFC 6750 section 2.1; the scheme is
// case-insensitive).
func bearerToken(h http.Header) (string, error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", ErrNoToken
	case 1:
	default:
		return "", errMultipleAuthorization
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoToken
	}
	token := strings.TrimSpace(rest)
	if token == "" {
		return "", ErrNoToken
	}
	return token, nil
}

// refuseRequest answers a refusal with the OnError of the BearerAuth that authenticated the request, or
// WriteBearerError when none did.
func refuseRequest(c *gin.Context, e *BearerError) {
	if v, ok := c.Get(bearerAuthKey); ok {
		if a, ok := v.(*BearerAuth); ok {
			a.refuse(c, e)
			return
		}
	}
	WriteBearerError(c, e)
}
