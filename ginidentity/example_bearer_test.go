package ginidentity_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A web API accepts Entra ID access tokens for its client id and lets each route decide which scopes or app
// permissions it needs. Here the tenant is the local emulator's; against Entra, leave Instance and
// HTTPClient out.
func ExampleNewBearerAuth() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	auth, err := ginidentity.NewBearerAuth(ginidentity.BearerOptions{
		Instance:   e.Instance(),
		TenantID:   entratest.ContosoTenantID,
		ClientID:   entratest.WebAPIClientID,
		HTTPClient: e.HTTPClient(), // trusts the emulator's certificate authority
	})
	if err != nil {
		log.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api := r.Group("/api", auth.Middleware())
	api.GET("/todolist", ginidentity.RequireScopeOrAppPermission(
		[]string{"ToDoList.Read", "ToDoList.ReadWrite"}, []string{"ToDoList.Read.All", "ToDoList.ReadWrite.All"}),
		func(c *gin.Context) {
			cl, _ := ginidentity.ClaimsFrom(c)
			c.String(http.StatusOK, "todo list of %s", cl.Name())
		})
	api.POST("/todolist", ginidentity.RequireScopes("ToDoList.ReadWrite"), func(c *gin.Context) {
		c.Status(http.StatusCreated)
	})

	// Alice's client app got a token with ToDoList.Read only.
	claims, err := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	if err != nil {
		log.Fatal(err)
	}
	token, err := e.IssueToken(claims)
	if err != nil {
		log.Fatal(err)
	}
	for _, req := range []struct{ method, token string }{{"GET", token}, {"POST", token}, {"GET", ""}} {
		r2 := httptest.NewRequest(req.method, "/api/todolist", nil)
		if req.token != "" {
			r2.Header.Set("Authorization", "Bearer "+req.token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, r2)
		fmt.Println(req.method, w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	// Output:
	// GET 200  todo list of Alice Smith
	// POST 403 Bearer error="insufficient_scope", error_description="the token carries none of the scopes this route accepts", scope="ToDoList.ReadWrite" {"error":"insufficient_scope","error_description":"the token carries none of the scopes this route accepts"}
	// GET 401 Bearer {"error":"unauthorized","error_description":"this API needs an access token: send it as Authorization: Bearer \u003ctoken\u003e"}
}

// A web API configured like a Microsoft.Identity.Web one: the AzureAd section gives the tenant, the client
// id and the permissions each group of routes accepts.
func ExampleNewBearerAuthFromConfig() {
	cfg, err := ginidentity.LoadConfigFrom("appsettings.json", []byte(`{
	  "AzureAd": {
	    "Instance": "https://login.microsoftonline.com/",
	    "TenantId": "aaaabbbb-0000-cccc-1111-dddd2222eeee",
	    "ClientId": "11112222-bbbb-3333-cccc-4444dddd5555",
	    "Scopes": { "Read": ["ToDoList.Read", "ToDoList.ReadWrite"], "Write": ["ToDoList.ReadWrite"] },
	    "AppPermissions": { "Read": ["ToDoList.Read.All", "ToDoList.ReadWrite.All"], "Write": ["ToDoList.ReadWrite.All"] }
	  }
	}`), nil)
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginidentity.NewBearerAuthFromConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	read, err := ginidentity.RequireScopeOrAppPermissionFromConfig(cfg.AzureAd, "Read")
	if err != nil {
		log.Fatal(err)
	}
	write, err := ginidentity.RequireScopeOrAppPermissionFromConfig(cfg.AzureAd, "Write")
	if err != nil {
		log.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api := r.Group("/api", auth.Middleware())
	api.GET("/todolist", read, func(c *gin.Context) { c.JSON(http.StatusOK, []string{}) })
	api.POST("/todolist", write, func(c *gin.Context) { c.Status(http.StatusCreated) })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/api/todolist", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer
}

// Handlers read the caller from the gin context, or from the request's context in plain net/http code.
func ExampleClaimsFrom() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/me", func(c *gin.Context) {
		cl, ok := ginidentity.ClaimsFrom(c)
		if !ok {
			c.Status(http.StatusUnauthorized)
			return
		}
		groups, _ := ginidentity.ClaimAs[[]string](cl, "groups")
		c.String(http.StatusOK, "%s (%s) in %s, app-only %v, groups %v", cl.Name(), cl.HomeAccountID(), cl.ClientID(), cl.IsAppOnly(), groups)
	})

	// In a test, put a principal in the request's context as the middleware would.
	cl := ginidentity.NewClaims(map[string]any{
		"name": "Alice Smith", "oid": "a11ce000-0000-4000-8000-00000000a11c", "tid": "aaaabbbb-0000-cccc-1111-dddd2222eeee",
		"azp": "00001111-aaaa-2222-bbbb-3333cccc4444", "scp": "ToDoList.Read", "groups": []any{"engineers"},
	}, "")
	req := httptest.NewRequest("GET", "/me", nil).WithContext(ginidentity.WithClaims(context.Background(), cl))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Body.String())
	// Output: Alice Smith (a11ce000-0000-4000-8000-00000000a11c.aaaabbbb-0000-cccc-1111-dddd2222eeee) in 00001111-aaaa-2222-bbbb-3333cccc4444, app-only false, groups [engineers]
}

// OnError changes how refusals are answered, for the middleware and the policies alike.
func ExampleBearerOptions_onError() {
	auth, err := ginidentity.NewBearerAuth(ginidentity.BearerOptions{
		TenantID: "organizations",
		ClientID: "11112222-bbbb-3333-cccc-4444dddd5555",
		OnError: func(c *gin.Context, e *ginidentity.BearerError) {
			c.Header("X-Refusal", e.Code)
			ginidentity.WriteBearerError(c, e) // keep the RFC 6750 answer
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api", auth.Middleware(), func(c *gin.Context) {})
	req := httptest.NewRequest("GET", "/api", nil)
	req.Header.Set("Authorization", "Bearer not-a-jwt")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("X-Refusal"))
	// Output: 401 invalid_token
}
