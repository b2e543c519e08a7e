package ginazure_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginazure"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A handler of a web API writes to Azure Storage on behalf of its caller: the credential acts for the user
// of the request, and azblob takes it as any other azcore.TokenCredential.
func ExampleNewUserCredential() {
	cfg, err := ginidentity.LoadConfig("appsettings.json")
	if err != nil {
		log.Fatal(err)
	}
	auth, err := ginidentity.NewBearerAuthFromConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, nil)
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.PUT("/api/notes/:name", auth.Middleware(), ginidentity.RequireScopes("Notes.Write"), func(c *gin.Context) {
		cred, err := ginazure.NewUserCredential(c, acquirer, nil)
		if err != nil {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		blobs, err := azblob.NewClient("https://contoso.blob.core.windows.net/", cred, nil)
		if err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		if _, err := blobs.UploadStream(c, "notes", c.Param("name"), c.Request.Body, nil); err != nil {
			c.AbortWithStatus(http.StatusBadGateway)
			return
		}
		c.Status(http.StatusCreated)
	})
	log.Fatal(r.Run(":8080"))
}

// A daemon's credential gets app tokens for the resource an Azure SDK client asks for.
func ExampleNewAppCredential() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoTenantID,
		ClientID: entratest.DaemonClientID, ClientSecret: entratest.DaemonSecret}}
	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: e.HTTPClient()})
	if err != nil {
		log.Fatal(err)
	}
	cred, err := ginazure.NewAppCredential(acquirer, nil)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Token != "", time.Until(tok.ExpiresOn) > time.Hour)
	// Output: true true
}
