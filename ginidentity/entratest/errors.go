package entratest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// oauthError is an error as Entra's token endpoint sends it.
type oauthError struct {
	Status   int    // HTTP status: 400, or 401 for a bad client credential
	Code     string // OAuth error: invalid_grant, invalid_client, invalid_request, ...
	AADSTS   int    // the AADSTS number, e.g. 50126
	Message  string // the description after "AADSTSnnnnn: "
	SubError string // suberror, e.g. consent_required, basic_action
	Claims   string // a claims challenge
}

func (e *oauthError) Error() string {
	return fmt.Sprintf("%s: AADSTS%d: %s", e.Code, e.AADSTS, e.Message)
}

// newError builds an oauthError with status 400.
func newError(code string, aadsts int, format string, args ...any) *oauthError {
	return &oauthError{Status: http.StatusBadRequest, Code: code, AADSTS: aadsts, Message: fmt.Sprintf(format, args...)}
}

// body returns the JSON fields of the error as Entra writes them: error, error_description (starting with
// AADSTSnnnnn: and ending with the trace id, correlation id and timestamp), error_codes, timestamp,
// trace_id, correlation_id, error_uri, and suberror and claims when set.
func (e *oauthError) body(now time.Time, authorityHost string) map[string]any {
	traceID, corrID := newGUID(), newGUID()
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	m := map[string]any{
		"error": e.Code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			e.AADSTS, e.Message, traceID, corrID, now.UTC().Format("2006-01-02 15:04:05.0000000Z")),
		"error_codes":    []int{e.AADSTS},
		"timestamp":      ts,
		"trace_id":       traceID,
		"correlation_id": corrID,
		"error_uri":      fmt.Sprintf("%s/error?code=%d", authorityHost, e.AADSTS),
	}
	if e.SubError != "" {
		m["suberror"] = e.SubError
	}
	if e.Claims != "" {
		m["claims"] = e.Claims
	}
	return m
}

// writeError writes an oauthError as the token endpoint does.
func (e *Emulator) writeError(w http.ResponseWriter, oe *oauthError) {
	e.logf("error %s AADSTS%d", oe.Code, oe.AADSTS)
	writeJSON(w, oe.Status, oe.body(e.now(), e.url))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newGUID returns a random version-4 GUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
