package ginidentity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// Defaults of AcquirerOptions.
const (
	DefaultUserCacheLifetime      = 14 * 24 * time.Hour
	DefaultOnBehalfOfCacheEntries = 10_000
	DefaultIndexEntries           = 200_000
	DefaultDiscoveryCacheTTL      = time.Hour
	defaultHTTPTimeout            = 30 * time.Second
)

// AcquirerOptions configures NewTokenAcquirer. A nil *AcquirerOptions, like every zero field, means the
// defaults.
type AcquirerOptions struct {
	// HTTPClient sends every request to Microsoft Entra ID. nil means a client with a 30 second timeout.
	HTTPClient *http.Client
	// Store keeps the token cache: one partition per user (home account id), per app and tenant. It may be
	// shared by every instance of the app (Redis): a cached token is then served only after the store shows
	// the user's partition still holds it, so a sign-out on any instance takes effect at once. nil means a
	// bounded in-memory store of the acquirer's own (tokencache.NewMemory): knowing every write to it, the
	// acquirer serves cached tokens without reading it.
	Store tokencache.Store
	// MemoryStore bounds the acquirer's own in-memory store, used when Store is nil. Zero fields take
	// tokencache's defaults; its Clock defaults to Now.
	MemoryStore tokencache.MemoryOptions
	// Logger receives warnings: a credential that could not be loaded or was refused. nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of the acquirer's caches. nil means time.Now. MSAL Go reads the system clock itself, so
	// when Now is set the acquirer also hides from MSAL the access tokens that Now says expire within five
	// minutes, so that MSAL refreshes them: tests move time with it.
	Now func() time.Time
	// UserCacheLifetime is how long a user's partition stays in the store after it was last written (a
	// refresh or a sign-in). 0 means DefaultUserCacheLifetime.
	UserCacheLifetime time.Duration
	// OnBehalfOfCacheEntries bounds the in-process cache of on-behalf-of tokens. 0 means
	// DefaultOnBehalfOfCacheEntries.
	OnBehalfOfCacheEntries int
	// IndexEntries bounds the in-process index of cached access tokens that lets a cached token be served
	// without MSAL decoding the user's partition. 0 means DefaultIndexEntries.
	IndexEntries int
	// DiscoveryCacheTTL is how long the tenant and instance discovery documents are kept. 0 means
	// DefaultDiscoveryCacheTTL.
	DiscoveryCacheTTL time.Duration
}

// AcquireOption changes one token acquisition.
type AcquireOption func(*acquireOptions)

type acquireOptions struct {
	tenant       string
	claims       string
	claimsErr    error
	forceRefresh bool
	extraQuery   map[string]string
}

// WithTenant acquires the token in another tenant than AzureAd's: a guest user's tenant, or a specific
// tenant for a multi-tenant app's app token.
func WithTenant(tenantID string) AcquireOption {
	return func(o *acquireOptions) { o.tenant = tenantID }
}

// WithClaimsChallenge asks for a token satisfying the claims of a claims challenge, as a web API's
// WWW-Authenticate header carries them (JSON, or its base64 encoding). For the caller of a web API and for
// the app, the token endpoint is asked again with the claims; the signed-in user of a web app must sign in
// again, so TokenForUser returns an *InteractionRequiredError carrying them.
func WithClaimsChallenge(claims string) AcquireOption {
	return func(o *acquireOptions) { o.claims, o.claimsErr = decodeClaims(claims) }
}

// WithForceRefresh skips the cached access token: a new one is requested from Microsoft Entra ID.
func WithForceRefresh() AcquireOption {
	return func(o *acquireOptions) { o.forceRefresh = true }
}

// WithExtraQueryParameters adds query parameters to the token endpoint's URL for this call, after those of
// AzureAd:ExtraQueryParameters. They do not take part in cache keys.
func WithExtraQueryParameters(params map[string]string) AcquireOption {
	return func(o *acquireOptions) {
		if o.extraQuery == nil {
			o.extraQuery = map[string]string{}
		}
		maps.Copy(o.extraQuery, params)
	}
}

func applyAcquireOptions(opts []AcquireOption) (acquireOptions, error) {
	var o acquireOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o, o.claimsErr
}

// decodeClaims accepts claims as JSON or as the base64 of JSON (as WWW-Authenticate carries them) and
// returns the JSON.
func decodeClaims(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	raw := []byte(s)
	if s[0] != '{' {
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if raw, err = enc.DecodeString(s); err == nil {
				break
			}
		}
		if err != nil {
			return "", fmt.Errorf("ginidentity: WithClaimsChallenge: the claims are neither JSON nor base64: pass the claims of the WWW-Authenticate header")
		}
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("ginidentity: WithClaimsChallenge: the claims are not a JSON object: pass the claims of the WWW-Authenticate header")
	}
	return string(raw), nil
}

// Token is an access token and what is known about it.
type Token struct {
	AccessToken string
	ExpiresOn   time.Time
	Scopes      []string // the scopes granted, as the token endpoint listed them
	TenantID    string   // the tenant the token was requested in ("" for the configured one)
	FromCache   bool     // the token came from the cache rather than from Microsoft Entra ID
}

// AuthorizationHeader is the value of an Authorization header carrying the token.
func (t Token) AuthorizationHeader() string { return "Bearer " + t.AccessToken }

// String describes the token without the token itself, so that printing or logging a Token leaks nothing.
func (t Token) String() string {
	return fmt.Sprintf("Token{scopes: %s, expires: %s, from cache: %t, access token: [redacted]}",
		strings.Join(t.Scopes, " "), t.ExpiresOn.Format(time.RFC3339), t.FromCache)
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// LogValue logs the token without the token itself.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("scopes", strings.Join(t.Scopes, " ")), slog.Time("expires", t.ExpiresOn),
		slog.Bool("from_cache", t.FromCache))
}
