package entratest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func getJSON(t *testing.T, c *http.Client, url string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
	return resp.StatusCode, m
}

func TestDiscoveryIssuers(t *testing.T) {
	e := entratest.Start(t)
	c := e.HTTPClient()
	for _, tc := range []struct{ tenant, issuer string }{
		{entratest.ContosoTenantID, e.URL() + "/" + entratest.ContosoTenantID + "/v2.0"},
		{entratest.ContosoDomain, e.URL() + "/" + entratest.ContosoTenantID + "/v2.0"},
		{"common", e.URL() + "/{tenantid}/v2.0"},
		{"organizations", e.URL() + "/{tenantid}/v2.0"},
	} {
		t.Run(tc.tenant, func(t *testing.T) {
			status, doc := getJSON(t, c, e.Authority(tc.tenant)+"/v2.0/.well-known/openid-configuration")
			if status != 200 || doc["issuer"] != tc.issuer {
				t.Fatalf("status %d issuer %v, want 200 %s", status, doc["issuer"], tc.issuer)
			}
			if doc["token_endpoint"] != e.Authority(tc.tenant)+"/oauth2/v2.0/token" {
				t.Fatalf("token_endpoint %v", doc["token_endpoint"])
			}
		})
	}
	status, doc := getJSON(t, c, e.Authority("nosuchtenant.onmicrosoft.com")+"/v2.0/.well-known/openid-configuration")
	if status != 400 || doc["error_codes"].([]any)[0] != float64(90002) {
		t.Fatalf("unknown tenant: status %d body %v", status, doc)
	}
}

func TestKeysCarryNoAlgAndVerifyTokens(t *testing.T) {
	e := entratest.Start(t)
	claims, err := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	_, doc := getJSON(t, e.HTTPClient(), e.Authority(entratest.ContosoTenantID)+"/discovery/v2.0/keys")
	for _, k := range doc["keys"].([]any) {
		if _, has := k.(map[string]any)["alg"]; has {
			t.Fatalf("JWKS key carries alg: %v", k)
		}
	}
	set, err := jwk.Fetch(context.Background(), e.Authority(entratest.ContosoTenantID)+"/discovery/v2.0/keys", jwk.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseString(tok, jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)), jwt.WithValidate(true),
		jwt.WithAudience(entratest.WebAPIClientID), jwt.WithIssuer(e.URL()+"/"+entratest.ContosoTenantID+"/v2.0"))
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	if scp, _ := parsed.Get("scp"); scp != "ToDoList.Read" {
		t.Fatalf("scp = %v", scp)
	}

	// After a rotation the old token still verifies (the old key stays published) and new tokens use a new kid.
	if err := e.RotateSigningKeys(); err != nil {
		t.Fatal(err)
	}
	set, err = jwk.Fetch(context.Background(), e.Authority(entratest.ContosoTenantID)+"/discovery/v2.0/keys", jwk.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("after rotation the JWKS holds %d keys, want 2", set.Len())
	}
	if _, err := jwt.ParseString(tok, jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true))); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
}
