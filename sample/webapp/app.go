package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/gingraph"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// mailRead is the delegated permission the mail page needs: asked when the user first opens the page.
const mailRead = "https://graph.microsoft.com/Mail.Read"

// callTimeout bounds a page's calls to Microsoft Graph or the web API, token acquisition included.
const callTimeout = 30 * time.Second

// appOptions are what the web app needs besides its configuration.
type appOptions struct {
	// HTTPClient reaches Microsoft Entra ID, Microsoft Graph and the web API (nil: a client with a 30 second
	// timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// SessionKeys seal the session cookies; empty: keys generated for this process (development only).
	SessionKeys [][]byte
	// TokenCache and SessionStore are where users' tokens and sessions live (nil: this process's memory and
	// sealed cookies); see stores.go.
	TokenCache   tokencache.Store
	SessionStore sessions.Store
}

// webApp is the sample: its pages and the sign-in routes.
type webApp struct {
	auth       *ginidentity.WebApp
	graph      *gingraph.Graph       // Microsoft Graph, as the signed-in user
	downstream *gindownstream.Client // the to-do list web API (DownstreamApis), as the signed-in user
	todoAPIs   []string              // the BaseUrl of its entries, to tell when it does not answer
	logger     *slog.Logger
}

// newRouter builds the web app from its configuration: / (public), /profile (signed in, with the name
// Microsoft Graph knows), /mail (signed in, with consent to Graph's Mail.Read), /todos (the to-do list
// web API; adding an item needs consent to ToDoList.ReadWrite), and the sign-in routes of ginidentity.
func newRouter(cfg *ginidentity.Config, o appOptions) (*gin.Engine, error) {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	acquirer, err := newAcquirer(cfg, o)
	if err != nil {
		return nil, err
	}
	auth, err := ginidentity.NewWebApp(cfg, &ginidentity.WebAppOptions{
		TokenAcquirer:                  acquirer,
		SessionStore:                   o.SessionStore,
		HTTPClient:                     o.HTTPClient,
		SessionKeys:                    o.SessionKeys,
		GenerateDevelopmentSessionKeys: len(o.SessionKeys) == 0,
		Logger:                         o.Logger,
	})
	if err != nil {
		return nil, err
	}
	app := &webApp{auth: auth, logger: o.Logger}
	for _, name := range []string{todoListRead, todoListWrite} {
		if api, ok := cfg.DownstreamAPI(name); ok && api.BaseURL != "" {
			app.todoAPIs = append(app.todoAPIs, strings.TrimRight(api.BaseURL, "/"))
		}
	}
	if app.graph, err = gingraph.New(cfg, auth.TokenAcquirer(), &gingraph.Options{HTTPClient: o.HTTPClient}); err != nil {
		return nil, err
	}
	if app.downstream, err = gindownstream.New(cfg, auth.TokenAcquirer(), &gindownstream.Options{HTTPClient: o.HTTPClient}); err != nil {
		return nil, err
	}

	r := gin.New()
	r.Use(gin.Recovery(), securityHeaders)
	auth.RegisterRoutes(r)
	r.GET("/", auth.Middleware(), app.home)
	r.GET("/profile", auth.RequireSignIn(), app.profile)
	r.GET("/mail", auth.RequireScopes(mailRead), app.mail)
	r.GET("/todos", auth.RequireSignIn(), app.todos)
	r.GET("/todos/new", requireAPIScopes(auth, cfg, todoListWrite), app.newTodo)
	r.POST("/todos", sameOrigin(), auth.RequireSignIn(), app.addTodo)
	return r, nil
}

// securityHeaders keeps the pages from being framed, sniffed or loading anything from elsewhere.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}

// home greets the signed-in user, or offers to sign in.
func (app *webApp) home(c *gin.Context) {
	app.render(c, http.StatusOK, "home", pageData{})
}

// profileClaims are the claims the profile page lists, when the session holds them.
var profileClaims = []string{"name", "preferred_username", "email", "oid", "tid", "sub", "iss", "idp", "sid", "roles", "ver"}

// profile shows the signed-in user's name as Microsoft Graph knows it (GET /me, with User.Read) and lists
// the claims of their ID token.
func (app *webApp) profile(c *gin.Context) {
	d := pageData{}
	name, err := app.graphName(c)
	if ginidentity.Challenge(c, err) {
		return
	}
	if err != nil {
		app.logger.Warn("profile: reading the user from Microsoft Graph failed", "err", err)
		d.Error = "Microsoft Graph could not be read. Please try again later."
	}
	d.GraphName = name
	cl, _ := ginidentity.ClaimsFrom(c)
	for _, name := range profileClaims {
		v, ok := cl.Get(name)
		if !ok {
			continue
		}
		if list, ok := v.([]any); ok {
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = fmt.Sprint(e)
			}
			v = strings.Join(parts, ", ")
		}
		d.Claims = append(d.Claims, claimRow{Name: name, Value: fmt.Sprint(v)})
	}
	app.render(c, http.StatusOK, "profile", d)
}

// graphName reads the signed-in user's display name from Microsoft Graph, as the user.
func (app *webApp) graphName(c *gin.Context) (string, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), callTimeout)
	defer cancel()
	client, err := app.graph.ForUser(ctx)
	if err != nil {
		return "", err
	}
	me, err := client.Me().Get(ctx, nil)
	if err != nil {
		return "", err
	}
	return deref(me.GetDisplayName()), nil
}

// message is a mail message as the page shows it.
type message struct {
	Subject  string
	From     string
	Received string
}

// mail lists the user's latest messages, read from Microsoft Graph with a token for Mail.Read.
func (app *webApp) mail(c *gin.Context) {
	msgs, err := app.messages(c)
	// Consent missing, or Graph's claims challenge (continuous access evaluation): only the user can act.
	if ginidentity.Challenge(c, err) {
		return
	}
	if err != nil {
		app.logger.Warn("mail: reading the messages failed", "err", err)
		app.render(c, http.StatusBadGateway, "mail", pageData{Error: "Your messages could not be read. Please try again later."})
		return
	}
	app.render(c, http.StatusOK, "mail", pageData{Messages: msgs})
}

// messages reads the user's ten latest messages from Microsoft Graph, as the user, with Mail.Read.
func (app *webApp) messages(c *gin.Context) ([]message, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), callTimeout)
	defer cancel()
	client, err := app.graph.ForUser(ctx, gingraph.WithScopes(mailRead))
	if err != nil {
		return nil, err
	}
	top := int32(10)
	page, err := client.Me().Messages().Get(ctx, &users.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Top: &top, Select: []string{"subject", "from", "receivedDateTime"}},
	})
	if err != nil {
		return nil, err
	}
	msgs := make([]message, 0, len(page.GetValue()))
	for _, m := range page.GetValue() {
		var msg message
		msg.Subject = deref(m.GetSubject())
		if from := m.GetFrom(); from != nil && from.GetEmailAddress() != nil {
			msg.From = cmp.Or(deref(from.GetEmailAddress().GetName()), deref(from.GetEmailAddress().GetAddress()))
		}
		if at := m.GetReceivedDateTime(); at != nil {
			msg.Received = at.UTC().Format("2006-01-02 15:04")
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// deref is the string a Graph model's property points to, "" for none.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// render writes a page with the signed-in user, if any.
func (app *webApp) render(c *gin.Context, status int, name string, d pageData) {
	if cl, ok := ginidentity.ClaimsFrom(c); ok {
		d.User = cl.Name()
		if d.User == "" {
			d.User = cl.PreferredUsername()
		}
	}
	d.Page = name
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := pages.ExecuteTemplate(c.Writer, name, d); err != nil {
		app.logger.Error("rendering a page", "page", name, "err", err)
	}
}
