package ginidentity_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A web app signs users in with Microsoft Entra ID (here the emulator), keeps them in a session, and calls
// Microsoft Graph as them, asking for consent when a page needs more than the user granted.
func ExampleNewWebApp() {
	e, err := entratest.New() // in production: Microsoft Entra ID itself, configured by appsettings.json
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{
		Instance: e.Instance(), TenantID: "organizations",
		ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret,
	}}
	key := make([]byte, 32) // in production: ginidentity.ParseSessionKeys(os.Getenv("SESSION_KEYS"))
	_, _ = rand.Read(key)
	app, err := ginidentity.NewWebApp(cfg, &ginidentity.WebAppOptions{
		HTTPClient:  e.HTTPClient(),
		SessionKeys: [][]byte{key},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	app.RegisterRoutes(r) // /auth/signin, /signin-oidc, /auth/signout, /signout-callback-oidc
	r.GET("/profile", app.RequireSignIn(), func(c *gin.Context) {
		user, _ := ginidentity.ClaimsFrom(c)
		c.String(http.StatusOK, "Hello, %s", user.Name())
	})
	const mailRead = "https://graph.microsoft.com/Mail.Read"
	r.GET("/mail", app.RequireScopes(mailRead), func(c *gin.Context) {
		tok, err := app.TokenAcquirer().TokenForUser(c.Request.Context(), []string{mailRead})
		if ginidentity.Challenge(c, err) { // consent or sign-in needed again: the user is sent for it
			return
		}
		if err != nil {
			c.AbortWithStatus(http.StatusBadGateway)
			return
		}
		_ = tok // call https://graph.microsoft.com/v1.0/me/messages with tok.AuthorizationHeader()
	})

	// A browser asking for a protected page is sent to sign in, and will come back to it.
	req := httptest.NewRequest(http.MethodGet, "http://localhost:5000/profile", nil)
	req.Header.Set("Accept", "text/html")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	authorize, _ := url.Parse(w.Header().Get("Location"))
	q := authorize.Query()
	fmt.Println(w.Code, authorize.Path)
	fmt.Println(q.Get("redirect_uri"), q.Get("response_mode"), q.Get("code_challenge_method"))

	// A script gets 401 and the URL to send the user to.
	req = httptest.NewRequest(http.MethodGet, "http://localhost:5000/profile", nil)
	req.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 302 /organizations/oauth2/v2.0/authorize
	// http://localhost:5000/signin-oidc form_post S256
	// 401 {"error":"login_required","error_description":"sign-in required","signInUrl":"/auth/signin?returnUrl=%2Fprofile"}
}
