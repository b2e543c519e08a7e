package gindownstream_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A web API calls Microsoft Graph (here the emulator's) on behalf of its caller: the DownstreamApis entry
// names the API and the scopes, and the handler passes its *gin.Context.
func Example() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	cfg := &ginidentity.Config{
		AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
			ClientID: entratest.WebAPIClientID, ClientSecret: entratest.WebAPISecret},
		DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{
			"Graph": {BaseURL: e.GraphURL(), RelativePath: "me", Scopes: []string{"User.Read"}},
		},
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
	downstream, err := gindownstream.New(cfg, acquirer, &gindownstream.Options{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/api/me", auth.Middleware(), ginidentity.RequireScopes("ToDoList.Read"), func(c *gin.Context) {
		var me struct {
			DisplayName string `json:"displayName"`
		}
		if err := downstream.GetForUser(c, "Graph", &me); err != nil {
			c.JSON(http.StatusBadGateway, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"name": me.DisplayName})
	})

	// Alice calls the web API through the sample web app.
	claims, _ := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	token, _ := e.IssueToken(claims)
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 {"name":"Alice Smith"}
}

// A daemon lists Graph's users with a plain *http.Client whose transport puts the app's token on each
// request to the entry's origin.
func ExampleClient_HTTPClientForApp() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	cfg := &ginidentity.Config{
		AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoTenantID,
			ClientID: entratest.DaemonClientID, ClientSecret: entratest.DaemonSecret},
		DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{
			"Graph": {BaseURL: e.GraphURL(), Scopes: []string{"https://graph.microsoft.com/.default"}, RequestAppToken: true},
		},
	}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	downstream, err := gindownstream.New(cfg, acquirer, &gindownstream.Options{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	client, err := downstream.HTTPClientForApp("Graph")
	if err != nil {
		log.Fatal(err)
	}
	resp, err := client.Get(e.GraphURL() + "/users?$select=displayName")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var users struct {
		Value []struct {
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&users); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, users.Value[0].DisplayName)
	// Output: 200 Alice Smith
}
