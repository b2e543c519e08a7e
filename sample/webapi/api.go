package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gingraph"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// apiOptions are what the routes need besides the configuration.
type apiOptions struct {
	// HTTPClient reaches Microsoft Entra ID (discovery, signing keys, tokens) and Microsoft Graph. nil: Go's
	// default transport, which trusts the system's CAs or those of SSL_CERT_FILE.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// TokenCache keeps the acquirer's cache partitions (nil: in memory); on-behalf-of tokens stay in process.
	TokenCache tokencache.Store
}

// The permissions of the TodoList API when AzureAd:Scopes and AzureAd:AppPermissions do not name them, as
// Microsoft's sample declares them in its appsettings.json: delegated scopes for users (through a client
// app), app permissions (app roles) for daemons.
var (
	defaultScopes = ginidentity.PermissionSet{Groups: map[string][]string{
		"Read":  {"ToDoList.Read", "ToDoList.ReadWrite"},
		"Write": {"ToDoList.ReadWrite"},
	}}
	defaultAppPermissions = ginidentity.PermissionSet{Groups: map[string][]string{
		"Read":  {"ToDoList.Read.All", "ToDoList.ReadWrite.All"},
		"Write": {"ToDoList.ReadWrite.All"},
	}}
)

// maxBodyBytes bounds a request body: a to-do item is a title.
const maxBodyBytes = 16 << 10

// newRouter builds the web API from its configuration, a web API's AzureAd section (to which it applies the
// defaults): every /api route needs a valid access token for this API, and each route its permissions.
func newRouter(c *ginidentity.Config, opts apiOptions) (*gin.Engine, error) {
	if c.AzureAd.Scopes.IsEmpty() && c.AzureAd.AppPermissions.IsEmpty() {
		c.AzureAd.Scopes, c.AzureAd.AppPermissions = defaultScopes, defaultAppPermissions
	}
	if err := c.ValidateWebAPI(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	bo := ginidentity.BearerOptionsFromConfig(c)
	bo.HTTPClient, bo.Logger = opts.HTTPClient, logger
	auth, err := ginidentity.NewBearerAuth(bo)
	if err != nil {
		return nil, err
	}
	canRead, err := ginidentity.RequireScopeOrAppPermissionFromConfig(c.AzureAd, "Read")
	if err != nil {
		return nil, err
	}
	canWrite, err := ginidentity.RequireScopeOrAppPermissionFromConfig(c.AzureAd, "Write")
	if err != nil {
		return nil, err
	}

	delegatedRead, err := ginidentity.RequireScopesFromConfig(c.AzureAd, "Read")
	if err != nil {
		return nil, err
	}
	me := &meHandler{logger: logger}
	if len(c.AzureAd.Credentials()) == 0 {
		logger.Warn("AzureAd has no client credential: GET /api/me, which calls Microsoft Graph on behalf of the caller, answers 501")
	} else {
		acquirer, err := ginidentity.NewTokenAcquirer(c, &ginidentity.AcquirerOptions{HTTPClient: opts.HTTPClient, Logger: logger, Store: opts.TokenCache})
		if err != nil {
			return nil, err
		}
		if me.graph, err = gingraph.New(c, acquirer, &gingraph.Options{HTTPClient: opts.HTTPClient}); err != nil {
			return nil, err
		}
	}

	todos := &todoHandlers{store: newTodoStore()}
	r := gin.New()
	r.Use(gin.Recovery(), accessLog(logger))
	api := r.Group("/api", auth.Middleware())
	api.GET("/todolist", canRead, todos.list)
	api.POST("/todolist", canWrite, todos.add)
	api.GET("/me", delegatedRead, me.get) // a user's own profile: delegated scopes only
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "error_description": "no such route: see GET /api/todolist"})
	})
	return r, nil
}

type todoHandlers struct{ store *todoStore }

// list answers the caller's items; an app (a daemon, with an app permission) sees every item.
func (h *todoHandlers) list(c *gin.Context) {
	cl, _ := ginidentity.ClaimsFrom(c)
	if cl.IsAppOnly() {
		c.JSON(http.StatusOK, h.store.list("", true))
		return
	}
	key, ok := ownerOf(c, cl)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, h.store.list(key, false))
}

// add stores {"title": "..."} for the caller: a user's item is the user's, an app's item the app's.
func (h *todoHandlers) add(c *gin.Context) {
	cl, _ := ginidentity.ClaimsFrom(c)
	key, ok := ownerOf(c, cl)
	if !ok {
		return
	}
	var body struct {
		Title *string `json:"title"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		badRequest(c, "the body must be a JSON object such as {\"title\": \"Buy milk\"}")
		return
	}
	if body.Title == nil {
		badRequest(c, errTitleRequired.Error())
		return
	}
	t, err := h.store.add(key, cl.ObjectID(), *body.Title)
	switch {
	case errors.Is(err, errListFull), errors.Is(err, errStoreFull):
		c.JSON(http.StatusInsufficientStorage, gin.H{"error": "list_full", "error_description": err.Error()})
	case err != nil:
		badRequest(c, err.Error())
	default:
		c.JSON(http.StatusCreated, t)
	}
}

// ownerOf is the key of the caller's items: its tenant and object id. A token without them names no one.
func ownerOf(c *gin.Context, cl *ginidentity.Claims) (string, bool) {
	if cl.ObjectID() == "" || cl.TenantID() == "" {
		c.JSON(http.StatusForbidden, gin.H{"error": "insufficient_claims",
			"error_description": "the token has no oid or tid claim, so it names no owner of to-do items"})
		return "", false
	}
	return ownerKey(cl.TenantID(), cl.ObjectID()), true
}

func badRequest(c *gin.Context, description string) {
	c.JSON(http.StatusBadRequest, gin.H{"error": "invalid_request", "error_description": description})
}

// accessLog logs each request: method, route, status and duration (never a header: they carry tokens).
func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		logger.Info("request", "method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
			"duration", time.Since(start).Round(time.Microsecond))
	}
}
