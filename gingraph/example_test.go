package gingraph_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gingraph"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A web API answers GET /api/me with its caller's display name, read from Microsoft Graph (here the
// emulator's) on behalf of the caller.
func Example() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	cfg := &ginidentity.Config{
		AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
			ClientID: entratest.WebAPIClientID, ClientSecret: entratest.WebAPISecret},
		MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: e.GraphURL(), Scopes: []string{"User.Read"}},
	}
	auth, err := ginidentity.NewBearerAuth(ginidentity.BearerOptions{Instance: e.Instance(), TenantID: "organizations",
		ClientID: entratest.WebAPIClientID, HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	graph, err := gingraph.New(cfg, acquirer, &gingraph.Options{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api/me", auth.Middleware(), ginidentity.RequireScopes("ToDoList.Read"), func(c *gin.Context) {
		client, err := graph.ForUser(c)
		if err != nil {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		me, err := client.Me().Get(c, nil)
		if err != nil {
			c.JSON(http.StatusBadGateway, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"displayName": me.GetDisplayName()})
	})

	claims, _ := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	token, _ := e.IssueToken(claims)
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 {"displayName":"Alice Smith"}
}
