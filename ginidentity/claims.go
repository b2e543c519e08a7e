package ginidentity

import (
	"context"
	"encoding/base64"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
)

// Claims is the validated principal of a request: the claims of the access token the bearer middleware
// accepted, or of the ID token of a signed-in user. It is immutable and safe to share between goroutines:
// accessors return copies. Every accessor returns the zero value on a nil *Claims.
type Claims struct {
	objectID, tenantID, subject, name, preferredUsername string
	clientID, issuer, version, idType                    string
	audience                                             []string
	scopes, roles                                        []string
	expiresAt, notBefore, issuedAt                       time.Time
	rawToken                                             string
	// digest is rawToken's tokenDigest, computed on first use: the bearer middleware hands the same *Claims to
	// every request carrying a token it has validated before, so on-behalf-of hashes each token once.
	digestOnce sync.Once
	digest     string
	// homeAccountID is uid.utid when the claims carry them (a signed-in web-app user), else oid.tid.
	homeAccountID string

	// all holds every claim, decoded from rawToken's payload on the first Get unless NewClaims was given them.
	allOnce sync.Once
	all     map[string]any
}

// NewClaims builds Claims from a decoded claim set (as JSON decodes it: strings, float64 numbers, []any,
// map[string]any) and the token it came from (may be ""). The sign-in middleware uses it for ID tokens;
// tests use it to put a principal in a context with WithClaims. The map is copied.
func NewClaims(raw map[string]any, rawToken string) *Claims {
	all := maps.Clone(raw)
	if all == nil {
		all = map[string]any{}
	}
	str := func(name string) string { s, _ := all[name].(string); return s }
	cl := &Claims{
		objectID:          str("oid"),
		tenantID:          str("tid"),
		subject:           str("sub"),
		name:              str("name"),
		preferredUsername: firstNonEmpty(str("preferred_username"), str("upn")),
		clientID:          firstNonEmpty(str("azp"), str("appid")),
		issuer:            str("iss"),
		version:           str("ver"),
		idType:            str("idtyp"),
		audience:          stringList(all["aud"]),
		roles:             stringList(all["roles"]),
		expiresAt:         timeOf(all["exp"]),
		notBefore:         timeOf(all["nbf"]),
		issuedAt:          timeOf(all["iat"]),
		rawToken:          rawToken,
		all:               all,
	}
	if uid, utid := str("uid"), str("utid"); uid != "" && utid != "" {
		cl.homeAccountID = uid + "." + utid
	}
	if scp, ok := all["scp"].(string); ok {
		cl.scopes = strings.Fields(scp)
	} else {
		cl.scopes = stringList(all["scp"])
	}
	return cl
}

// newClaimsFromToken builds the Claims of a validated token from its typed claims; the others are decoded
// from the token only if a handler asks for them.
func newClaimsFromToken(tc *tokenClaims, rawToken string) *Claims {
	return &Claims{
		objectID:          tc.ObjectID,
		tenantID:          tc.TenantID,
		subject:           tc.Subject,
		name:              tc.Name,
		preferredUsername: firstNonEmpty(tc.PreferredUsername, tc.UPN),
		clientID:          firstNonEmpty(tc.AuthorizedParty, tc.AppID),
		issuer:            tc.Issuer,
		version:           tc.Version,
		idType:            tc.IDType,
		audience:          tc.Audience,
		scopes:            strings.Fields(tc.Scope),
		roles:             tc.Roles,
		expiresAt:         dateOf(tc.Expiry),
		notBefore:         dateOf(tc.NotBefore),
		issuedAt:          dateOf(tc.IssuedAt),
		rawToken:          rawToken,
	}
}

// ObjectID is the oid claim: the user's (or, for an app-only token, the calling service principal's)
// object id, the same for every app.
func (c *Claims) ObjectID() string {
	if c == nil {
		return ""
	}
	return c.objectID
}

// TenantID is the tid claim: the directory the caller signed in to.
func (c *Claims) TenantID() string {
	if c == nil {
		return ""
	}
	return c.tenantID
}

// Subject is the sub claim, pairwise: it differs for each app. Prefer ObjectID to key data by user.
func (c *Claims) Subject() string {
	if c == nil {
		return ""
	}
	return c.subject
}

// Name is the name claim, the user's display name ("" for app-only tokens).
func (c *Claims) Name() string {
	if c == nil {
		return ""
	}
	return c.name
}

// PreferredUsername is the preferred_username claim (v2.0 tokens) or, failing it, upn (v1.0 tokens).
func (c *Claims) PreferredUsername() string {
	if c == nil {
		return ""
	}
	return c.preferredUsername
}

// Scopes are the delegated permissions of the scp claim, without the resource prefix.
func (c *Claims) Scopes() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.scopes)
}

// Roles are the app roles of the roles claim: application permissions for app-only tokens, app roles
// assigned to the user for delegated ones.
func (c *Claims) Roles() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.roles)
}

// HasScope reports whether the scp claim holds the scope.
func (c *Claims) HasScope(scope string) bool { return c != nil && slices.Contains(c.scopes, scope) }

// HasRole reports whether the roles claim holds the role.
func (c *Claims) HasRole(role string) bool { return c != nil && slices.Contains(c.roles, role) }

// ClientID is the calling app's client id: azp (v2.0 tokens) or appid (v1.0 tokens).
func (c *Claims) ClientID() string {
	if c == nil {
		return ""
	}
	return c.clientID
}

// IsAppOnly reports whether the token was issued to an app for itself (client credentials) rather than on
// behalf of a user: idtyp is "app" or, when the token has no idtyp, it has no scp and its oid equals its sub.
func (c *Claims) IsAppOnly() bool {
	if c == nil {
		return false
	}
	if c.idType != "" {
		return c.idType == "app"
	}
	return len(c.scopes) == 0 && c.objectID != "" && c.objectID == c.subject
}

// RawToken is the token the claims came from, as received: keep it to call another API on behalf of the user.
func (c *Claims) RawToken() string {
	if c == nil {
		return ""
	}
	return c.rawToken
}

// rawTokenDigest is the SHA-256 of RawToken, base64url-encoded.
func (c *Claims) rawTokenDigest() string {
	c.digestOnce.Do(func() { c.digest = tokenDigest(c.rawToken) })
	return c.digest
}

// HomeAccountID is the key MSAL gives the user's account: uid.utid from the token response's client_info
// for a signed-in web-app user (for a guest, the user's home tenant), else "oid.tid" ("" when either claim
// is missing).
func (c *Claims) HomeAccountID() string {
	if c == nil {
		return ""
	}
	if c.homeAccountID != "" {
		return c.homeAccountID
	}
	if c.objectID == "" || c.tenantID == "" {
		return ""
	}
	return c.objectID + "." + c.tenantID
}

// Issuer is the iss claim.
func (c *Claims) Issuer() string {
	if c == nil {
		return ""
	}
	return c.issuer
}

// Audience is the aud claim, as a list.
func (c *Claims) Audience() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.audience)
}

// Version is the ver claim: "1.0" or "2.0" for Entra access tokens.
func (c *Claims) Version() string {
	if c == nil {
		return ""
	}
	return c.version
}

// ExpiresAt is the exp claim (the zero time if absent).
func (c *Claims) ExpiresAt() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.expiresAt
}

// Get returns any claim by name, as JSON decodes it (string, float64, bool, []any, map[string]any).
// Slices and maps are copies.
func (c *Claims) Get(name string) (any, bool) {
	if c == nil {
		return nil, false
	}
	v, ok := c.allClaims()[name]
	return deepCopy(v), ok
}

// ClaimAs returns the claim converted to T when it holds one: a value of type T itself, []string from a
// JSON array of strings, int, int64 or float64 from a JSON number, and time.Time from a NumericDate.
func ClaimAs[T any](c *Claims, name string) (T, bool) {
	var out T
	v, ok := c.Get(name)
	if !ok {
		return out, false
	}
	if t, ok := v.(T); ok {
		return t, true
	}
	switch p := any(&out).(type) {
	case *[]string:
		list, ok := v.([]any)
		if !ok {
			return out, false
		}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return out, false
			}
			*p = append(*p, s)
		}
		return out, true
	case *int64:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return out, false
		}
		*p = int64(f)
		return out, true
	case *int:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return out, false
		}
		*p = int(f)
		return out, true
	case *time.Time:
		if _, ok := v.(float64); !ok {
			return out, false
		}
		*p = timeOf(v)
		return out, true
	}
	return out, false
}

// allClaims decodes every claim of the token once, on first use.
func (c *Claims) allClaims() map[string]any {
	c.allOnce.Do(func() {
		if c.all != nil {
			return
		}
		c.all = map[string]any{}
		parts := strings.Split(c.rawToken, ".")
		if len(parts) != 3 {
			return
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return
		}
		var all map[string]any
		if json.Unmarshal(payload, &all) == nil {
			c.all = all
		}
	})
	return c.all
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stringList reads a claim that is a string or an array of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return slices.Clone(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// timeOf reads a NumericDate (seconds since the epoch).
func timeOf(v any) time.Time {
	switch v := v.(type) {
	case float64:
		return dateOf(v)
	case int64:
		return time.Unix(v, 0)
	case int:
		return time.Unix(int64(v), 0)
	}
	return time.Time{}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []string:
		return slices.Clone(v)
	}
	return v
}

// contextKey is the type of this package's context keys, so that no other package can collide with them.
type contextKey struct{ name string }

var claimsKey = &contextKey{"claims"}

// WithClaims returns a copy of ctx carrying the claims. The middleware does it for every accepted request;
// tests and the sign-in middleware use it too.
func WithClaims(ctx context.Context, cl *Claims) context.Context {
	return context.WithValue(ctx, claimsKey, cl)
}

// ClaimsFromContext returns the claims of the request whose context this is, for plain net/http code.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	cl, ok := ctx.Value(claimsKey).(*Claims)
	return cl, ok && cl != nil
}

// ClaimsFrom returns the validated principal of the request: ok is false when no authentication middleware
// accepted it.
func ClaimsFrom(c *gin.Context) (*Claims, bool) {
	if v, ok := c.Get(claimsKey); ok {
		if cl, ok := v.(*Claims); ok && cl != nil {
			return cl, true
		}
	}
	if c.Request == nil {
		return nil, false
	}
	return ClaimsFromContext(c.Request.Context())
}

// setRequestClaims makes the claims reachable from the gin context and from the request's context.
func setRequestClaims(c *gin.Context, cl *Claims) {
	c.Set(claimsKey, cl)
	c.Request = c.Request.WithContext(WithClaims(c.Request.Context(), cl))
}
