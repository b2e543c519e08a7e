package entratest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// The daemon of the default directory gets an app-only token for the web API with MSAL Go, and the token
// validates against the emulator's JWKS.
func Example_clientCredentials() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	cred, err := confidential.NewCredFromSecret(entratest.DaemonSecret)
	if err != nil {
		log.Fatal(err)
	}
	daemon, err := confidential.New(e.Authority(entratest.ContosoTenantID), entratest.DaemonClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	res, err := daemon.AcquireTokenByCredential(context.Background(), []string{entratest.WebAPIAppIDURI + "/.default"})
	if err != nil {
		log.Fatal(err)
	}

	keys, err := jwk.Fetch(context.Background(), e.Authority(entratest.ContosoTenantID)+"/discovery/v2.0/keys", jwk.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	tok, err := jwt.ParseString(res.AccessToken, jwt.WithKeySet(keys, jws.WithInferAlgorithmFromKey(true)),
		jwt.WithAudience(entratest.WebAPIClientID), jwt.WithIssuer(e.URL()+"/"+entratest.ContosoTenantID+"/v2.0"))
	if err != nil {
		log.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	fmt.Println(roles)
	// Output: [ToDoList.Read.All]
}

// A token endpoint error carries Entra's AADSTS code.
func Example_tokenEndpointError() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	resp, err := e.HTTPClient().PostForm(e.Authority("common")+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {entratest.WebAPIClientID}, "client_secret": {entratest.WebAPISecret},
		"scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, body.Error, body.ErrorCodes)
	// Output: 400 invalid_request [50059]
}

// Local finds the emulator the samples share, or starts it in this process. Here it uses a throwaway state
// directory and a free port; samples use the defaults (127.0.0.1:5443 and the user cache directory).
func ExampleLocal() {
	dir, err := os.MkdirTemp("", "entra-emulator-state")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	resp, err := l.HTTPClient().Get(l.Authority(entratest.ContosoDomain) + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("started here:", l.Started(), "discovery:", resp.StatusCode)
	// Output: started here: true discovery: 200
}

// A workload on "App Service" gets a managed identity token with MSAL Go: point IDENTITY_ENDPOINT and
// IDENTITY_HEADER at the emulator, as App Service does.
func ExampleEmulator_ManagedIdentityEndpoint() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	os.Setenv("IDENTITY_ENDPOINT", e.ManagedIdentityEndpoint())
	os.Setenv("IDENTITY_HEADER", e.IdentityHeader())
	defer os.Unsetenv("IDENTITY_ENDPOINT")
	defer os.Unsetenv("IDENTITY_HEADER")

	mi, err := managedidentity.New(managedidentity.SystemAssigned(), managedidentity.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	res, err := mi.AcquireToken(context.Background(), "https://graph.microsoft.com")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := jwt.ParseString(res.AccessToken, jwt.WithVerify(false))
	if err != nil {
		log.Fatal(err)
	}
	appID, _ := tok.Get("appid")
	roles, _ := tok.Get("roles")
	fmt.Println(appID == entratest.ManagedIdentityClientID, roles)
	// Output: true [User.Read.All]
}
