package ginidentity

import (
	"errors"
	"fmt"
)

// webAppOptionError is one problem of a WebAppOptions, naming the field and the fix.
type webAppOptionError struct{ field, problem, fix string }

func (e *webAppOptionError) Error() string {
	return "ginidentity: WebAppOptions." + e.field + " " + e.problem + ": " + e.fix
}

// Errors of web-app sign-in. Branch on them with errors.Is. The sign-in routes hand them to the gin context
// (c.Error) for logging middleware, and show the browser only a page saying that sign-in failed.
var (
	// ErrSignInFailed: a sign-in response was refused: no state or one this browser did not start, an error
	// from the identity provider, a code that could not be redeemed, an ID token that failed validation.
	ErrSignInFailed = errors.New("ginidentity: sign-in failed")
	// ErrInvalidIDToken: the ID token of a sign-in response failed validation. It wraps ErrSignInFailed.
	ErrInvalidIDToken = fmt.Errorf("%w: the ID token is invalid", ErrSignInFailed)
)

// signInProblem is one reason a sign-in response is refused; it wraps ErrSignInFailed.
type signInProblem struct{ description string }

func (p *signInProblem) Error() string { return "ginidentity: sign-in failed: " + p.description }
func (p *signInProblem) Unwrap() error { return ErrSignInFailed }

// idTokenProblem is one reason an ID token is refused; it wraps ErrInvalidIDToken.
type idTokenProblem struct{ description string }

func (p *idTokenProblem) Error() string {
	return "ginidentity: sign-in failed: the ID token is invalid: " + p.description
}
func (p *idTokenProblem) Unwrap() error { return ErrInvalidIDToken }
