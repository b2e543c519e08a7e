package ginidentity

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// idTokenValidator checks the ID token of a sign-in, which MSAL Go never does: the signature by a key the
// tenant publishes (the bearer validator's keySet: same discovery document, same cache), the v2.0 issuer
// for the token's tenant, the audience (this app's client id), the nonce the sign-in sent, and the times
// (exp, nbf, iat). Entra signs ID tokens with RS256 only.
type idTokenValidator struct {
	keys      *keySet
	verifier  jws.Verifier
	clientID  string
	now       func() time.Time
	clockSkew time.Duration
}

// newIDTokenValidator validates the ID tokens of the authority (https://host/{tenant}) for the client.
func newIDTokenValidator(client *http.Client, authority, clientID string, clockSkew time.Duration, now func() time.Time, logger *slog.Logger) (*idTokenValidator, error) {
	verifier, err := jws.NewVerifier(jwa.RS256)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: RS256 verifier: %w", err)
	}
	return &idTokenValidator{
		keys: &keySet{
			client:             client,
			metadataURL:        authority + "/v2.0/.well-known/openid-configuration",
			now:                now,
			logger:             logger,
			refreshInterval:    DefaultKeyRefreshInterval,
			unknownKidInterval: DefaultUnknownKeyRefreshInterval,
			fetchTimeout:       DefaultKeyFetchTimeout,
		},
		verifier:  verifier,
		clientID:  clientID,
		now:       now,
		clockSkew: clockSkew,
	}, nil
}

// The reasons an ID token is refused, each checked by its own test.
var (
	errIDTokenMissing   = &idTokenProblem{"the token endpoint returned no ID token"}
	errIDTokenMalformed = &idTokenProblem{"it is not a well-formed signed JWT with the expected claim types"}
	errIDTokenAlgorithm = &idTokenProblem{"it is not signed with RS256"}
	errIDTokenHeader    = &idTokenProblem{"its header carries parameters never trusted (jwk, jku, x5u, x5c, crit, b64) or no kid"}
	errIDTokenKey       = &idTokenProblem{"it was signed with a key its issuer does not publish"}
	errIDTokenSignature = &idTokenProblem{"its signature is invalid"}
	errIDTokenExpired   = &idTokenProblem{"it has expired, or has no exp"}
	errIDTokenNotYet    = &idTokenProblem{"it is not valid yet (nbf or iat in the future)"}
	errIDTokenIssuer    = &idTokenProblem{"its issuer is not the configured authority's for its tenant (iss, tid)"}
	errIDTokenAudience  = &idTokenProblem{"it was issued to another application (aud, azp)"}
	errIDTokenNonce     = &idTokenProblem{"its nonce is not the one this sign-in sent"}
	errIDTokenSubject   = &idTokenProblem{"it names no user (oid, sub)"}
)

// idTokenClaims are the claims the validator checks; a claim of the wrong JSON type makes the token
// malformed.
type idTokenClaims struct {
	Issuer          string   `json:"iss"`
	Audience        audience `json:"aud"`
	AuthorizedParty string   `json:"azp"`
	Expiry          float64  `json:"exp"` // unsetDate when absent
	NotBefore       float64  `json:"nbf"`
	IssuedAt        float64  `json:"iat"`
	TenantID        string   `json:"tid"`
	ObjectID        string   `json:"oid"`
	Subject         string   `json:"sub"`
	Nonce           string   `json:"nonce"`
}

// validate checks the ID token and returns all its claims, as JSON decodes them.
func (v *idTokenValidator) validate(ctx context.Context, token, nonce string) (map[string]any, error) {
	if token == "" {
		return nil, errIDTokenMissing
	}
	if len(token) > DefaultMaxTokenBytes {
		return nil, errIDTokenMalformed
	}
	raw := []byte(token)
	hdrSeg, payloadSeg, sigSeg, err := jws.SplitCompact(raw)
	if err != nil {
		return nil, errIDTokenMalformed
	}
	var hdr joseHeader
	if decodeSegment(hdrSeg, &hdr) != nil {
		return nil, errIDTokenMalformed
	}
	if hdr.forbidden() || hdr.Kid == "" {
		return nil, errIDTokenHeader
	}
	if jwa.SignatureAlgorithm(hdr.Alg) != jwa.RS256 {
		return nil, errIDTokenAlgorithm
	}
	key, snap, err := v.keys.lookup(ctx, hdr.Kid)
	switch {
	case errors.Is(err, errUnknownKey):
		return nil, errIDTokenKey
	case err != nil:
		return nil, err // the keys are unavailable: not the token's fault
	case !key.fits(jwa.RS256):
		return nil, errIDTokenAlgorithm
	}
	sig := make([]byte, strictBase64.DecodedLen(len(sigSeg)))
	n, err := strictBase64.Decode(sig, sigSeg)
	if err != nil || base64.RawURLEncoding.EncodedLen(n) != len(sigSeg) {
		return nil, errIDTokenMalformed
	}
	if v.verifier.Verify(raw[:len(hdrSeg)+1+len(payloadSeg)], sig[:n], key.key) != nil {
		return nil, errIDTokenSignature
	}

	tc := idTokenClaims{Expiry: unsetDate, NotBefore: unsetDate, IssuedAt: unsetDate}
	var all map[string]any
	if decodeSegment(payloadSeg, &tc) != nil || decodeSegment(payloadSeg, &all) != nil {
		return nil, errIDTokenMalformed
	}
	now := v.now()
	exp, nbf, iat := dateOf(tc.Expiry), dateOf(tc.NotBefore), dateOf(tc.IssuedAt)
	switch {
	case exp.IsZero() || now.After(exp.Add(v.clockSkew)):
		return nil, errIDTokenExpired
	case !nbf.IsZero() && now.Add(v.clockSkew).Before(nbf):
		return nil, errIDTokenNotYet
	case iat.IsZero():
		return nil, errIDTokenMalformed
	case now.Add(v.clockSkew).Before(iat):
		return nil, errIDTokenNotYet
	}
	if tc.TenantID == "" || (snap.issuerTenant != "" && tc.TenantID != snap.issuerTenant) ||
		!issuerMatches(snap.issuerTemplate, tc.Issuer, tc.TenantID) {
		return nil, errIDTokenIssuer
	}
	// OpenID Connect Core 3.1.3.7: aud contains the client id; with several audiences, azp is the client id.
	if !slices.Contains(tc.Audience, v.clientID) || (len(tc.Audience) > 1 && tc.AuthorizedParty != v.clientID) ||
		(tc.AuthorizedParty != "" && tc.AuthorizedParty != v.clientID) {
		return nil, errIDTokenAudience
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(tc.Nonce), []byte(nonce)) != 1 {
		return nil, errIDTokenNonce
	}
	if tc.ObjectID == "" || tc.Subject == "" {
		return nil, errIDTokenSubject
	}
	return all, nil
}
