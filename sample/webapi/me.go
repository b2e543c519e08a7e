package main

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gingraph"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// meHandler answers GET /api/me with the caller's display name, read from Microsoft Graph on behalf of the
// caller (the on-behalf-of flow): the API exchanges the caller's token for a Graph token.
type meHandler struct {
	graph  *gingraph.Graph // nil when the API has no client credential
	logger *slog.Logger
}

func (h *meHandler) get(c *gin.Context) {
	if h.graph == nil {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "not_configured",
			"error_description": "this API has no client credential, so it cannot call Microsoft Graph on behalf of its callers: set AzureAd:ClientCredentials (or AzureAd__ClientSecret)"})
		return
	}
	client, err := h.graph.ForUser(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	me, err := client.Me().Get(c, nil)
	if err != nil {
		h.fail(c, err)
		return
	}
	name := ""
	if me.GetDisplayName() != nil {
		name = *me.GetDisplayName()
	}
	c.JSON(http.StatusOK, gin.H{"displayName": name})
}

// fail answers the caller so that it can act: a claims challenge goes back to it (its client satisfies it
// with the user), a missing consent says which scopes, and Graph's own errors are a 502.
func (h *meHandler) fail(c *gin.Context, err error) {
	var ie *ginidentity.InteractionRequiredError
	var oe *odataerrors.ODataError
	switch {
	case errors.As(err, &ie) && ie.Claims != "":
		h.logger.Info("a claims challenge goes back to the caller", "reason", ie.Reason)
		c.Header("WWW-Authenticate", `Bearer error="insufficient_claims", claims="`+base64.StdEncoding.EncodeToString([]byte(ie.Claims))+`"`)
		c.JSON(http.StatusUnauthorized, gin.H{"error": "insufficient_claims", "error_description": "Microsoft Graph needs a token satisfying the claims challenge: sign in again with those claims"})
	case errors.As(err, &ie):
		h.logger.Info("the caller must act before this API can call Microsoft Graph", "reason", ie.Reason, "scopes", strings.Join(ie.Scopes, " "))
		c.JSON(http.StatusForbidden, gin.H{"error": "interaction_required",
			"error_description": "this API cannot call Microsoft Graph for you (" + ie.Reason + "): consent to " + strings.Join(ie.Scopes, " ") + " for this API"})
	case errors.As(err, &oe):
		h.logger.Warn("Microsoft Graph refused the request", "status", oe.ResponseStatusCode, "error", err)
		c.JSON(http.StatusBadGateway, gin.H{"error": "graph_error", "error_description": "Microsoft Graph answered " + http.StatusText(oe.ResponseStatusCode)})
	default:
		h.logger.Error("cannot call Microsoft Graph", "error", err)
		c.JSON(http.StatusBadGateway, gin.H{"error": "graph_unavailable", "error_description": "this API could not get a token for Microsoft Graph or reach it: its log says why"})
	}
}
