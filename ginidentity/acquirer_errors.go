package ginidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// ErrNoUser is returned by TokenAcquirer.TokenForUser when the context holds no signed-in user of a web app
// nor a caller of a web API: the handler is not behind the sign-in or bearer middleware, or the claims lack
// oid and tid.
var ErrNoUser = errors.New("ginidentity: no signed-in user or web API caller in the context: put the route behind the sign-in or bearer middleware, or pass its request context")

// InteractionRequiredError says that a token for the user cannot be had without the user: consent is
// missing, the refresh token was revoked or has expired, a claims challenge (conditional access) must be
// met, or the user's tokens are not in the cache (signed out, evicted). A web app answers it by sending the
// user to the authorize endpoint with Scopes and Claims; a web API answers its caller with 401 and a
// WWW-Authenticate header naming them.
type InteractionRequiredError struct {
	Scopes []string // the scopes the call asked for: request them at the authorize endpoint
	Claims string   // the claims to request there (JSON), "" when there is no claims challenge
	Reason string   // why the user must act, for logs: "consent missing (AADSTS65001)"
	Err    error    // the underlying error, nil when the cache alone decided
}

func (e *InteractionRequiredError) Error() string {
	msg := fmt.Sprintf("ginidentity: the user must sign in again for %s: %s", strings.Join(e.Scopes, " "), e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InteractionRequiredError) Unwrap() error { return e.Err }

// TokenEndpointError is an error answer of Microsoft Entra ID's token endpoint, with the fields of its JSON
// body. It wraps MSAL Go's error (an errors.CallErr).
type TokenEndpointError struct {
	Status        int    // the HTTP status, 400 or 401
	Code          string // the OAuth error: invalid_grant, invalid_client, interaction_required, ...
	ErrorCodes    []int  // the AADSTS numbers, such as 65001
	SubError      string // suberror, such as consent_required or basic_action
	Description   string // error_description, starting with AADSTSnnnnn
	Claims        string // a claims challenge sent with the error
	CorrelationID string
	Err           error
}

func (e *TokenEndpointError) Error() string {
	msg := fmt.Sprintf("the token endpoint answered %d %s", e.Status, e.Code)
	if e.Description != "" {
		msg += ": " + redactTokens(e.Description)
	}
	return msg
}

func (e *TokenEndpointError) Unwrap() error { return e.Err }

// HasCode reports whether the error carries the AADSTS number.
func (e *TokenEndpointError) HasCode(aadsts int) bool {
	for _, c := range e.ErrorCodes {
		if c == aadsts {
			return true
		}
	}
	return false
}

// tokenEndpointError extracts the token endpoint's answer from an error of MSAL Go, or returns nil when the
// error did not come from an answer of the token endpoint.
func tokenEndpointError(err error) *TokenEndpointError {
	var te *TokenEndpointError
	if errors.As(err, &te) {
		return te
	}
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil {
		return nil
	}
	var body []byte
	if ce.Resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(ce.Resp.Body, 64<<10))
		ce.Resp.Body = io.NopCloser(bytes.NewReader(body)) // leave it readable for MSAL's Verbose
	}
	var fields struct {
		Error         string `json:"error"`
		Description   string `json:"error_description"`
		ErrorCodes    []int  `json:"error_codes"`
		SubError      string `json:"suberror"`
		Claims        string `json:"claims"`
		CorrelationID string `json:"correlation_id"`
	}
	if json.Unmarshal(body, &fields) != nil || fields.Error == "" {
		return &TokenEndpointError{Status: ce.Resp.StatusCode, Code: "unexpected_response", Err: err}
	}
	return &TokenEndpointError{Status: ce.Resp.StatusCode, Code: fields.Error, ErrorCodes: fields.ErrorCodes,
		SubError: fields.SubError, Description: fields.Description, Claims: fields.Claims,
		CorrelationID: fields.CorrelationID, Err: err}
}

// isInvalidClient reports whether the token endpoint refused the app's credential: the next one is tried.
func isInvalidClient(te *TokenEndpointError) bool {
	return te != nil && (te.Code == "invalid_client" || te.HasCode(7000215) || te.HasCode(7000222) || te.HasCode(700027))
}

// interactionReason says why the user must act when the token endpoint's answer means so, and "" otherwise.
func interactionReason(te *TokenEndpointError) string {
	if te == nil {
		return ""
	}
	code := ""
	if len(te.ErrorCodes) > 0 {
		code = " (AADSTS" + strconv.Itoa(te.ErrorCodes[0]) + ")"
	}
	switch {
	case te.HasCode(65001) || te.SubError == "consent_required" || te.Code == "consent_required":
		return "consent missing" + code
	case te.HasCode(50173) || te.HasCode(70008) || te.HasCode(700082) || te.HasCode(50133) || te.HasCode(700084):
		return "the refresh token was revoked or has expired" + code
	case te.Claims != "" || te.HasCode(50076) || te.HasCode(50079) || te.HasCode(50158) || te.SubError == "basic_action":
		return "conditional access requires the user (a claims challenge)" + code
	case te.Code == "interaction_required" || te.Code == "login_required":
		return "interaction required" + code
	case te.Code == "invalid_grant":
		return "the grant is no longer valid" + code
	}
	return ""
}

// jwtPattern matches a JWT (or the start of one) in a message.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*){0,2}`)

// redactTokens removes anything shaped as a JWT from a message: MSAL Go quotes whole response bodies in some
// of its errors.
func redactTokens(s string) string { return jwtPattern.ReplaceAllString(s, "[token redacted]") }

// redactedError keeps an error's chain for errors.Is/As but prints its message without tokens.
type redactedError struct{ err error }

func (r redactedError) Error() string {
	return strings.Join(strings.Fields(redactTokens(r.err.Error())), " ") // MSAL's messages span lines
}
func (r redactedError) Unwrap() error { return r.err }

// describeMSALError wraps an error of MSAL Go: the token endpoint's answer when there is one, the error with
// any token removed from its message otherwise.
func describeMSALError(err error) error {
	var refused *credentialsRefusedError
	if errors.As(err, &refused) {
		return refused
	}
	if te := tokenEndpointError(err); te != nil {
		return te
	}
	return redactedError{err}
}

// credentialsRefusedError says that the token endpoint refused every credential of the app, each named.
type credentialsRefusedError struct {
	msg  string
	last *TokenEndpointError
}

func (e *credentialsRefusedError) Error() string { return e.msg }
func (e *credentialsRefusedError) Unwrap() error { return e.last }
