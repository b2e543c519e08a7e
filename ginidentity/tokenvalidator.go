package ginidentity

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// tokenValidator checks Entra access tokens. jwx's jws.Parse decodes the header with a streaming JSON decoder
// that alone costs a quarter of an RSA verify, so the token is split with jws.SplitCompact, its header and
// claims are each decoded once with a strict JSON decoder (duplicate names, invalid UTF-8 and nesting deeper
// than 10,000 are errors), and the signature is verified once with jwx's verifier for the header's alg and the
// published key its kid names, before any claim is read.
type tokenValidator struct {
	keys      *keySet
	cache     *validatedTokens // nil when disabled
	headers   verifiedHeaders
	verifiers map[jwa.SignatureAlgorithm]jws.Verifier

	now           func() time.Time
	clockSkew     time.Duration
	maxTokenBytes int

	clientID  string
	appIDURI  string   // api://{clientID}: the audience of v1.0 tokens
	audiences []string // configured audiences, accepted whatever the token version
	// v1IssuerTemplate is the v1.0 issuer of the cloud, https://sts.windows.net/{tenantid}/ for the public one.
	v1IssuerTemplate string
	allowedTenants   map[string]bool // nil: any tenant
	allowACL         bool
}

// joseHeader is the protected header, as far as it matters: the parameters that would make a verifier trust
// a key the token brings itself, or understand an extension, are read only to be refused.
type joseHeader struct {
	Alg  string         `json:"alg"`
	Kid  string         `json:"kid"`
	JWK  jsontext.Value `json:"jwk"`
	JKU  jsontext.Value `json:"jku"`
	X5U  jsontext.Value `json:"x5u"`
	X5C  jsontext.Value `json:"x5c"`
	Crit jsontext.Value `json:"crit"`
	B64  jsontext.Value `json:"b64"`
}

func (h *joseHeader) forbidden() bool {
	return len(h.JWK) > 0 || len(h.JKU) > 0 || len(h.X5U) > 0 || len(h.X5C) > 0 || len(h.Crit) > 0 || len(h.B64) > 0
}

// tokenClaims are the claims the validator checks or Claims exposes; a claim of the wrong JSON type makes the
// token malformed. Other claims are decoded only when a handler asks Claims.Get for them.
type tokenClaims struct {
	Issuer            string   `json:"iss"`
	Audience          audience `json:"aud"`
	Expiry            float64  `json:"exp"` // unsetDate when absent
	NotBefore         float64  `json:"nbf"`
	IssuedAt          float64  `json:"iat"`
	TenantID          string   `json:"tid"`
	Scope             string   `json:"scp"`
	Roles             []string `json:"roles"`
	AuthorizedParty   string   `json:"azp"`
	AppID             string   `json:"appid"`
	ObjectID          string   `json:"oid"`
	Subject           string   `json:"sub"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	Version           string   `json:"ver"`
	IDType            string   `json:"idtyp"`
}

// unsetDate marks a NumericDate claim absent from the token: decoding leaves it untouched.
var unsetDate = math.NaN()

// maxNumericDate bounds dates (about the year 5000) so that the conversion to time.Time cannot overflow.
const maxNumericDate = 1e11

// dateOf converts a JWT NumericDate (seconds since the epoch) to a time, the zero time when it is unset.
func dateOf(seconds float64) time.Time {
	if math.IsNaN(seconds) {
		return time.Time{}
	}
	sec, frac := math.Modf(max(min(seconds, maxNumericDate), -maxNumericDate))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// audience is the aud claim: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*a = audience{tok.String()}
		return nil
	case '[':
		var list []string
		if err := json.UnmarshalDecode(dec, &list); err != nil {
			return err
		}
		*a = list
		return nil
	case 'n':
		_, err := dec.ReadToken()
		*a = nil
		return err
	}
	return errors.New("aud must be a string or an array of strings")
}

// strictBase64 decodes base64url without padding and refuses non-zero trailing bits.
var strictBase64 = base64.RawURLEncoding.Strict()

// validate checks the token and returns its claims. A token validated before and still in the cache costs
// a hash lookup and the lifetime check.
func (v *tokenValidator) validate(ctx context.Context, token string) (*Claims, error) {
	if len(token) > v.maxTokenBytes {
		return nil, errTokenTooLarge
	}
	now := v.now()
	if v.cache != nil {
		if cl, ok := v.cache.get(token, v.keys.generation()); ok {
			if err := v.checkLifetime(cl.expiresAt, cl.notBefore, now); err != nil {
				return nil, err
			}
			return cl, nil
		}
	}
	cl, generation, err := v.validateUncached(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, cl, generation)
	}
	return cl, nil
}

// validateUncached runs every check, cheapest and signature first; it returns the claims and the generation
// of the keys that verified them.
func (v *tokenValidator) validateUncached(ctx context.Context, token string, now time.Time) (*Claims, uint64, error) {
	// The token's bytes and, after them, its decoded signature share a pooled buffer (the signature is
	// shorter than the token); nothing keeps them past the return.
	bp := tokenBuffers.Get().(*[]byte)
	defer tokenBuffers.Put(bp)
	if need := len(token) + strictBase64.DecodedLen(len(token)); cap(*bp) < need {
		*bp = make([]byte, 0, need)
	}
	raw := append((*bp)[:0], token...)
	hdrSeg, payloadSeg, sigSeg, err := jws.SplitCompact(raw)
	if err != nil {
		return nil, 0, errMalformedToken
	}
	hdr, known := v.headers.get(hdrSeg)
	if !known {
		if err := decodeSegment(hdrSeg, &hdr); err != nil {
			return nil, 0, errMalformedToken
		}
	}
	if hdr.forbidden() {
		return nil, 0, errForbiddenHeader
	}
	alg := jwa.SignatureAlgorithm(hdr.Alg)
	verifier, ok := v.verifiers[alg]
	if !ok {
		return nil, 0, errAlgorithm
	}
	if hdr.Kid == "" {
		return nil, 0, errNoKeyID
	}
	key, snap, err := v.keys.lookup(ctx, hdr.Kid)
	if err != nil {
		return nil, 0, err
	}
	if !key.fits(alg) {
		return nil, 0, errAlgorithm
	}
	sig := raw[len(raw):cap(raw)]
	n, err := strictBase64.Decode(sig, sigSeg)
	// The decoder skips line breaks: insist on the canonical encoding so that one signature has one spelling.
	if err != nil || base64.RawURLEncoding.EncodedLen(n) != len(sigSeg) {
		return nil, 0, errMalformedToken
	}
	signingInput := raw[:len(hdrSeg)+1+len(payloadSeg)]
	if err := verifier.Verify(signingInput, sig[:n], key.key); err != nil {
		return nil, 0, errSignature
	}

	tc := tokenClaims{Expiry: unsetDate, NotBefore: unsetDate, IssuedAt: unsetDate}
	if err := decodeSegment(payloadSeg, &tc); err != nil {
		return nil, 0, errMalformedClaims
	}
	if math.IsNaN(tc.Expiry) {
		return nil, 0, errNoExpiry
	}
	if err := v.checkLifetime(dateOf(tc.Expiry), dateOf(tc.NotBefore), now); err != nil {
		return nil, 0, err
	}
	if err := v.checkIssuer(snap, tc.Issuer, tc.TenantID); err != nil {
		return nil, 0, err
	}
	if !v.audienceAccepted(tc.Audience, tc.Version) {
		return nil, 0, errAudience
	}
	if !v.allowACL && strings.TrimSpace(tc.Scope) == "" && len(tc.Roles) == 0 {
		return nil, 0, errNoScopesNorRoles
	}
	if !known {
		v.headers.add(hdrSeg, hdr)
	}
	return newClaimsFromToken(&tc, token), snap.generation, nil
}

var tokenBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxVerifiedHeaders bounds verifiedHeaders: Entra signs with a handful of keys at a time.
const maxVerifiedHeaders = 32

// verifiedHeaders remembers the decoded protected headers of tokens that passed validation. Entra signs
// every token of a key under the same header (typ, alg, kid, x5t), so on a busy API nearly every header
// segment was verified before, and decoding it again would cost a twentieth of an RSA verify. Only the
// headers of valid tokens enter, so forged tokens cannot fill it; reads take no lock; it starts afresh when
// full.
type verifiedHeaders struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]joseHeader]
}

func (h *verifiedHeaders) get(seg []byte) (joseHeader, bool) {
	m := h.m.Load()
	if m == nil {
		return joseHeader{}, false
	}
	hdr, ok := (*m)[string(seg)]
	return hdr, ok
}

func (h *verifiedHeaders) add(seg []byte, hdr joseHeader) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := map[string]joseHeader{}
	if p := h.m.Load(); p != nil && len(*p) < maxVerifiedHeaders {
		maps.Copy(m, *p)
	}
	m[string(seg)] = hdr
	h.m.Store(&m)
}

// decodeSegment decodes a base64url segment holding a JSON object into v. The decoded JSON goes through a
// pooled buffer: the decoder copies what it keeps.
func decodeSegment(seg []byte, v any) error {
	bp := segmentBuffers.Get().(*[]byte)
	defer segmentBuffers.Put(bp)
	if need := strictBase64.DecodedLen(len(seg)); cap(*bp) < need {
		*bp = make([]byte, need)
	}
	buf := (*bp)[:cap(*bp)]
	n, err := strictBase64.Decode(buf, seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(buf[:n], v)
}

var segmentBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// checkLifetime checks exp and nbf (when set) against now, with the clock skew.
func (v *tokenValidator) checkLifetime(exp, nbf, now time.Time) error {
	if now.After(exp.Add(v.clockSkew)) {
		return ErrTokenExpired
	}
	if !nbf.IsZero() && now.Add(v.clockSkew).Before(nbf) {
		return errNotYetValid
	}
	return nil
}

// checkIssuer accepts the v2.0 issuer of the discovery document and the cloud's v1.0 issuer, for the token's
// tenant: the tenant of the configuration when it names one, else any tenant (in AllowedTenants when set),
// whose id is substituted for {tenantid}.
func (v *tokenValidator) checkIssuer(snap *keySnapshot, iss, tid string) error {
	if tid == "" {
		return errNoTenant
	}
	if snap.issuerTenant != "" && tid != snap.issuerTenant {
		return errIssuer
	}
	if !issuerMatches(snap.issuerTemplate, iss, tid) && !issuerMatches(v.v1IssuerTemplate, iss, tid) {
		return errIssuer
	}
	if v.allowedTenants != nil && !v.allowedTenants[tid] {
		return errTenantNotAllowed
	}
	return nil
}

const tenantIDTemplate = "{tenantid}"

// issuerTemplate returns the issuer with its tenant segment as {tenantid}, and the tenant it named ("" when
// the issuer already was a template).
func issuerTemplate(issuer string) (template, tenant string) {
	if strings.Contains(issuer, tenantIDTemplate) {
		return issuer, ""
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer, ""
	}
	seg, rest, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if seg == "" {
		return issuer, ""
	}
	prefix := u.Scheme + "://" + u.Host + "/"
	if rest != "" || strings.HasSuffix(u.Path, "/") {
		rest = "/" + rest
	}
	return prefix + tenantIDTemplate + rest, seg
}

// issuerMatches reports whether iss is the template with tid for {tenantid}, without building the string.
func issuerMatches(template, iss, tid string) bool {
	before, after, ok := strings.Cut(template, tenantIDTemplate)
	if !ok {
		return template != "" && template == iss
	}
	return len(iss) == len(before)+len(tid)+len(after) &&
		strings.HasPrefix(iss, before) && strings.HasSuffix(iss, after) && iss[len(before):len(before)+len(tid)] == tid
}

// audienceAccepted applies Microsoft.Identity.Web's rule: a v2.0 token's aud is the client id, a v1.0 token's
// is the App ID URI api://{client id}; configured audiences are accepted for both.
func (v *tokenValidator) audienceAccepted(aud []string, version string) bool {
	for _, a := range aud {
		if slices.Contains(v.audiences, a) {
			return true
		}
		switch version {
		case "2.0":
			if a == v.clientID {
				return true
			}
		case "1.0":
			if a == v.appIDURI {
				return true
			}
		}
	}
	return false
}
