package ginidentity

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// ErrSessionStoreUnavailable is wrapped by the errors of a session store that failed (a Redis that is down
// or does not answer within Sessions:OperationTimeout), as opposed to a cookie that does not open. Whether
// a user is signed in is then unknown: RequireSignIn, RequireScopes and the sign-in routes answer 503
// Service Unavailable rather than sending the user to sign in again. Test with errors.Is.
var ErrSessionStoreUnavailable = errors.New("ginidentity: the session store is unavailable")

// storeUnavailable reports whether err comes from a session store or token cache that could not be
// reached: the same request may succeed shortly.
func storeUnavailable(err error) bool {
	return errors.Is(err, ErrSessionStoreUnavailable) || errors.Is(err, tokencache.ErrUnavailable)
}

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = "5"

// unavailable answers 503 Service Unavailable when a store the request needs is down, and aborts the chain:
// a page saying to try again for a browser, JSON for a script. The cause goes to the log and c.Error, never
// to the response.
func (a *WebApp) unavailable(c *gin.Context, err error) {
	_ = c.Error(err)
	a.logger.Warn("ginidentity: a session or token store is unavailable; answering 503", "path", c.Request.URL.Path, "err", err)
	writeUnavailable(c)
}

// sessionUnavailable answers 503 and reports true when reading the request's session failed (authenticate
// has recorded why).
func (a *WebApp) sessionUnavailable(c *gin.Context) bool {
	if v, ok := c.Get(sessionErrKey); ok && v != nil {
		writeUnavailable(c)
		return true
	}
	return false
}

func writeUnavailable(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Retry-After", retryAfterSeconds)
	if !isBrowserNavigation(c.Request) {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "temporarily_unavailable",
			"error_description": "the session or token store is unavailable; try again in a few seconds"})
		return
	}
	c.Status(http.StatusServiceUnavailable)
	renderPage(c, unavailablePage, nil)
	c.Abort()
}

var unavailablePage = template.Must(template.New("unavailable").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1 id="unavailable">The service is temporarily unavailable.</h1><p>Nothing was lost. Please try again in a few seconds.</p></body></html>
`))
