package ginidentity

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Errors of bearer-token authentication and of the scope and role policies. Branch on them with errors.Is;
// the middleware hands a *BearerError wrapping one of them to BearerOptions.OnError.
var (
	// ErrNoToken: the request carries no bearer token (no Authorization header, or another scheme).
	ErrNoToken = errors.New("ginidentity: no bearer token in the request")
	// ErrInvalidToken: the token was refused (malformed, forged, expired, for another API or issuer...).
	// The finer reason is in the error chain and in BearerError.Description.
	ErrInvalidToken = errors.New("ginidentity: invalid bearer token")
	// ErrTokenExpired: the token's exp is past, beyond the clock skew. It wraps ErrInvalidToken.
	ErrTokenExpired error = &tokenProblem{"the token has expired"}
	// ErrInsufficientScope: the token is valid but carries none of the scopes or app roles the route accepts.
	ErrInsufficientScope = errors.New("ginidentity: insufficient scope")
	// ErrKeysUnavailable: the issuer's signing keys could not be fetched and none are held, so no token can
	// be checked for now. The middleware answers 503 and retries the fetch after a short backoff.
	ErrKeysUnavailable = errors.New("ginidentity: the issuer's signing keys are unavailable")
)

// tokenProblem is one reason a token is refused. Its text is safe to show to the caller: fixed, it never
// repeats anything the token carries.
type tokenProblem struct{ description string }

func (p *tokenProblem) Error() string { return "ginidentity: invalid bearer token: " + p.description }
func (p *tokenProblem) Unwrap() error { return ErrInvalidToken }

// The reasons a token is refused, each checked by its own test.
var (
	errTokenTooLarge    = &tokenProblem{"the token is larger than this API accepts"}
	errMalformedToken   = &tokenProblem{"the token is not a well-formed signed JWT"}
	errMalformedClaims  = &tokenProblem{"the token's claims are not a valid JSON object with the expected claim types"}
	errAlgorithm        = &tokenProblem{"the token's signing algorithm is not accepted"}
	errForbiddenHeader  = &tokenProblem{"the token's header carries parameters this API never trusts (jwk, jku, x5u, x5c, crit, b64)"}
	errNoKeyID          = &tokenProblem{"the token's header has no key id (kid)"}
	errUnknownKey       = &tokenProblem{"the token was signed with a key its issuer does not publish"}
	errSignature        = &tokenProblem{"the token's signature is invalid"}
	errNoExpiry         = &tokenProblem{"the token has no expiry (exp)"}
	errNotYetValid      = &tokenProblem{"the token is not valid yet (nbf)"}
	errNoTenant         = &tokenProblem{"the token has no tenant id (tid)"}
	errIssuer           = &tokenProblem{"the token's issuer is not trusted by this API"}
	errTenantNotAllowed = &tokenProblem{"the token's tenant is not allowed to call this API"}
	errAudience         = &tokenProblem{"the token is not meant for this API (audience)"}
	errNoScopesNorRoles = &tokenProblem{"the token carries neither scopes (scp) nor app roles (roles)"}
)

// errMultipleAuthorization: the request has more than one Authorization header.
var errMultipleAuthorization = errors.New("ginidentity: more than one Authorization header")

// keysUnavailableError says why no signing key is held and when the next fetch may happen.
type keysUnavailableError struct {
	retryAfter time.Duration
	cause      error
}

func (e *keysUnavailableError) Error() string {
	if e.cause == nil {
		return ErrKeysUnavailable.Error()
	}
	return ErrKeysUnavailable.Error() + ": " + e.cause.Error()
}

func (e *keysUnavailableError) Unwrap() []error { return []error{ErrKeysUnavailable, e.cause} }

// BearerError is why the bearer middleware or a policy refused a request, as the response will say it.
// OnError receives it; WriteBearerError writes it the RFC 6750 way.
type BearerError struct {
	// StatusCode is 401 (no or invalid token), 403 (insufficient scope), 400 (malformed request) or 503
	// (signing keys unavailable).
	StatusCode int
	// Code is the RFC 6750 error code: "" when no token was sent, "invalid_token", "insufficient_scope",
	// "invalid_request", or "temporarily_unavailable" for a 503.
	Code string
	// Description is a human-readable reason, safe to return: it never repeats the token or its claims.
	Description string
	// Scopes are the scopes the route accepts, for an insufficient_scope error.
	Scopes []string
	// RetryAfter, for a 503, is when the signing keys will be fetched again.
	RetryAfter time.Duration
	// Err is the cause, wrapping one of the Err* sentinels. Its text may carry details for logs.
	Err error
}

func (e *BearerError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "ginidentity: " + e.Description
}

func (e *BearerError) Unwrap() error { return e.Err }

// Descriptions of the refusals that are not token problems.
const (
	descNoToken         = "this API needs an access token: send it as Authorization: Bearer <token>"
	descMultipleHeaders = "send exactly one Authorization header"
	descKeysUnavailable = "the API cannot check tokens right now: the issuer's signing keys are unavailable; retry later"
	descInvalidToken    = "the token could not be validated"
)

// bearerErrorFor turns an authentication error into the response it calls for.
func bearerErrorFor(err error) *BearerError {
	var be *BearerError
	if errors.As(err, &be) {
		return be
	}
	var p *tokenProblem
	var ku *keysUnavailableError
	switch {
	case errors.Is(err, ErrNoToken):
		return &BearerError{StatusCode: http.StatusUnauthorized, Description: descNoToken, Err: err}
	case errors.Is(err, errMultipleAuthorization):
		return &BearerError{StatusCode: http.StatusBadRequest, Code: "invalid_request", Description: descMultipleHeaders, Err: err}
	case errors.As(err, &p):
		return &BearerError{StatusCode: http.StatusUnauthorized, Code: "invalid_token", Description: p.description, Err: err}
	case errors.As(err, &ku):
		return &BearerError{StatusCode: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: descKeysUnavailable, RetryAfter: ku.retryAfter, Err: err}
	case errors.Is(err, ErrKeysUnavailable):
		return &BearerError{StatusCode: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: descKeysUnavailable, Err: err}
	default:
		// A cancelled request while waiting for keys, or anything unforeseen: refuse without detail.
		return &BearerError{StatusCode: http.StatusUnauthorized, Code: "invalid_token", Description: descInvalidToken,
			Err: errors.Join(ErrInvalidToken, err)}
	}
}

// WriteBearerError answers the request as RFC 6750 asks and aborts the handler chain: a WWW-Authenticate
// challenge on 401 and 403 (without an error code when no token was sent; with scope="..." for
// insufficient_scope), Retry-After on 503, and a JSON body {"error": ..., "error_description": ...}.
// It is the default of BearerOptions.OnError; a custom handler may call it after its own logging.
func WriteBearerError(c *gin.Context, e *BearerError) {
	status := e.StatusCode
	if status == 0 {
		status = http.StatusUnauthorized
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		c.Header("WWW-Authenticate", challenge(e))
	}
	if status == http.StatusServiceUnavailable {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	code := e.Code
	if code == "" {
		code = "unauthorized"
	}
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": e.Description})
}

// challenge is the WWW-Authenticate value for the error.
func challenge(e *BearerError) string {
	if e.Code == "" {
		return "Bearer"
	}
	var b strings.Builder
	b.WriteString(`Bearer error="`)
	b.WriteString(quotable(e.Code))
	b.WriteString(`"`)
	if e.Description != "" {
		b.WriteString(`, error_description="`)
		b.WriteString(quotable(e.Description))
		b.WriteString(`"`)
	}
	if len(e.Scopes) > 0 {
		b.WriteString(`, scope="`)
		for i, s := range e.Scopes {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(quotable(s))
		}
		b.WriteString(`"`)
	}
	return b.String()
}

// quotable keeps only the characters RFC 6750 allows inside its quoted attributes: printable ASCII other
// than the double quote and the backslash.
func quotable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
