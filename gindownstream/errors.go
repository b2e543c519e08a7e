package gindownstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// ErrUnknownAPI is wrapped by the error of a call naming no entry of the DownstreamApis section.
var ErrUnknownAPI = errors.New("gindownstream: no such entry in the DownstreamApis section")

type unknownAPIError struct{ name, known string }

func (e *unknownAPIError) Error() string {
	return fmt.Sprintf(`gindownstream: the DownstreamApis section has no entry %q (%s): add "DownstreamApis": {%q: {"BaseUrl": "https://...", "Scopes": ["..."]}} to appsettings.json, or set DownstreamApis__%s__BaseUrl and DownstreamApis__%s__Scopes`,
		e.name, e.known, e.name, e.name, e.name)
}

func (e *unknownAPIError) Unwrap() error { return ErrUnknownAPI }

// APIError is a downstream API's answer other than 2xx. It keeps the status, the headers and the start of
// the body, for the caller to act on (a 404, a 409, a Retry-After...).
type APIError struct {
	API        string      // the DownstreamApis entry
	Method     string      // the request's method
	URL        string      // the request's URL, without its query
	StatusCode int         // the answer's status
	Header     http.Header // the answer's headers
	Body       []byte      // the answer's body, its first 64 KiB
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("gindownstream: %s: %s %s answered %d %s", e.API, e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if s := snippet(e.Body); s != "" {
		msg += ": " + s
	}
	return msg
}

// newAPIError reads the start of a failed answer's body into an *APIError and closes it.
func newAPIError(name string, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	u := *resp.Request.URL
	u.RawQuery, u.User = "", nil
	return &APIError{API: name, Method: resp.Request.Method, URL: u.String(), StatusCode: resp.StatusCode,
		Header: resp.Header, Body: body}
}

// jwtPattern matches anything shaped as a JWT, so that an answer echoing a token never reaches a log.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*){0,2}`)

// snippet is the start of a body for a message: one line, at most 512 bytes, no token.
func snippet(body []byte) string {
	const max = 512
	s := string(body)
	if len(s) > max {
		s = s[:max] + "..."
	}
	s = strings.Join(strings.Fields(s), " ")
	return jwtPattern.ReplaceAllString(s, "[token redacted]")
}
