package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// mailRead is the delegated permission the mail page needs: asked when the user first opens the page.
const mailRead = "https://graph.microsoft.com/Mail.Read"

// appOptions are what the web app needs besides its configuration.
type appOptions struct {
	// HTTPClient reaches Microsoft Entra ID and Microsoft Graph (nil: Go's default client).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// SessionKeys seal the session cookies; empty: keys generated for this process (development only).
	SessionKeys [][]byte
	// TokenCache and SessionStore are where users' tokens and sessions live (nil: this process's memory and
	// sealed cookies); see stores.go.
	TokenCache   tokencache.Store
	SessionStore sessions.Store
}

// webApp is the sample: three pages and the sign-in routes.
type webApp struct {
	auth     *ginidentity.WebApp
	graphURL string
	http     *http.Client
	logger   *slog.Logger
}

// newRouter builds the web app from its configuration: / (public), /profile (signed in), /mail (signed in,
// with consent to Graph's Mail.Read), and the sign-in routes of ginidentity.
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
	app := &webApp{auth: auth, graphURL: strings.TrimRight(cfg.MicrosoftGraph.BaseURL, "/"), http: o.HTTPClient, logger: o.Logger}

	r := gin.New()
	r.Use(gin.Recovery(), securityHeaders)
	auth.RegisterRoutes(r)
	r.GET("/", auth.Middleware(), app.home)
	r.GET("/profile", auth.RequireSignIn(), app.profile)
	r.GET("/mail", auth.RequireScopes(mailRead), app.mail)
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

// profile lists the signed-in user's claims.
func (app *webApp) profile(c *gin.Context) {
	cl, _ := ginidentity.ClaimsFrom(c)
	var rows []claimRow
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
		rows = append(rows, claimRow{Name: name, Value: fmt.Sprint(v)})
	}
	app.render(c, http.StatusOK, "profile", pageData{Claims: rows})
}

// message is a mail message as the page shows it.
type message struct {
	Subject  string
	From     string
	Received string
}

// mail lists the user's latest messages, read from Microsoft Graph with a token for Mail.Read.
func (app *webApp) mail(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	msgs, err := app.messages(ctx)
	var challenge *graphClaimsChallenge
	if errors.As(err, &challenge) {
		// Continuous access evaluation: Graph wants a token with more claims; only the user can get one.
		_, err = app.auth.TokenAcquirer().TokenForUser(ctx, []string{mailRead}, ginidentity.WithClaimsChallenge(challenge.claims))
	}
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

// graphClaimsChallenge is Graph's 401 insufficient_claims, with the claims (base64) to ask for.
type graphClaimsChallenge struct{ claims string }

func (e *graphClaimsChallenge) Error() string {
	return "Microsoft Graph asked for a token with more claims"
}

// messages calls GET /me/messages with a plain HTTP request and the user's token.
func (app *webApp) messages(ctx context.Context) ([]message, error) {
	tok, err := app.auth.TokenAcquirer().TokenForUser(ctx, []string{mailRead})
	if err != nil {
		return nil, err
	}
	q := url.Values{"$top": {"10"}, "$select": {"subject,from,receivedDateTime"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, app.graphURL+"/me/messages?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", tok.AuthorizationHeader())
	req.Header.Set("Accept", "application/json")
	resp, err := app.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /me/messages: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("GET /me/messages: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if claims := challengeParam(resp.Header.Get("WWW-Authenticate"), "claims"); claims != "" {
			return nil, &graphClaimsChallenge{claims: claims}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /me/messages: HTTP %d: %.200s", resp.StatusCode, body)
	}
	var page struct {
		Value []struct {
			Subject string `json:"subject"`
			From    struct {
				EmailAddress struct {
					Name    string `json:"name"`
					Address string `json:"address"`
				} `json:"emailAddress"`
			} `json:"from"`
			ReceivedDateTime time.Time `json:"receivedDateTime"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("GET /me/messages: %w", err)
	}
	msgs := make([]message, 0, len(page.Value))
	for _, m := range page.Value {
		from := m.From.EmailAddress.Name
		if from == "" {
			from = m.From.EmailAddress.Address
		}
		msgs = append(msgs, message{Subject: m.Subject, From: from, Received: m.ReceivedDateTime.Format("2006-01-02 15:04")})
	}
	return msgs, nil
}

// challengeParam reads a parameter of a WWW-Authenticate challenge: claims="..." in
// Bearer realm="", error="insufficient_claims", claims="eyJ...".
func challengeParam(header, name string) string {
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		if i := strings.LastIndexByte(k, ' '); i >= 0 {
			k = k[i+1:] // the scheme precedes the first parameter
		}
		if strings.EqualFold(k, name) {
			return strings.Trim(v, `"`)
		}
	}
	return ""
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
