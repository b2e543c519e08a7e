package ginidentity

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The app itself: client credentials, cached per tenant and resource.

const (
	acqGraphDefault = "https://graph.microsoft.com/.default"
	acqAPIDefault   = entratest.WebAPIAppIDURI + "/.default"
)

func TestTokenForAppCachesPerTenantAndResource(t *testing.T) {
	e := entratest.Start(t)
	// The web API is multi-tenant: it can get app tokens in contoso and in fabrikam.
	a, reqs := acqWebAPI(t, e, nil, nil)
	ctx := acqContext(t)

	contoso, err := a.TokenForApp(ctx, acqGraphDefault)
	if err != nil {
		t.Fatal(err)
	}
	fabrikam, err := a.TokenForApp(ctx, acqGraphDefault, WithTenant(entratest.FabrikamTenantID))
	if err != nil {
		t.Fatal(err)
	}
	storage, err := a.TokenForApp(ctx, "https://storage.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		tok       Token
		tid, aud  string
		tenantOpt string
	}{
		{"contoso", contoso, entratest.ContosoTenantID, "https://graph.microsoft.com", ""},
		{"fabrikam", fabrikam, entratest.FabrikamTenantID, "https://graph.microsoft.com", entratest.FabrikamTenantID},
		{"storage", storage, entratest.ContosoTenantID, "https://storage.azure.com", ""},
	} {
		cl := acqClaimsOf(t, c.tok.AccessToken)
		if cl["tid"] != c.tid || cl["aud"] != c.aud || cl["idtyp"] != "app" || cl["appid"] != entratest.WebAPIClientID || c.tok.FromCache || c.tok.TenantID != c.tenantOpt {
			t.Errorf("%s: claims %v, token %v", c.name, cl, c.tok)
		}
	}
	if reqs.get("token") != 3 {
		t.Fatalf("%d token requests, want 3", reqs.get("token"))
	}
	for _, k := range []string{entratest.WebAPIClientID + "_" + entratest.ContosoTenantID + "_AppTokenCache",
		entratest.WebAPIClientID + "_" + entratest.FabrikamTenantID + "_AppTokenCache"} {
		if _, err := a.store.Get(ctx, k); err != nil {
			t.Errorf("no partition %s: %v", k, err)
		}
	}

	// Each comes from the cache now, through the index and through MSAL.
	for _, noIndex := range []bool{false, true} {
		a.naive.noIndex = noIndex
		for _, c := range []struct {
			want  Token
			scope string
			opts  []AcquireOption
		}{
			{contoso, acqGraphDefault, nil},
			{fabrikam, acqGraphDefault, []AcquireOption{WithTenant(entratest.FabrikamTenantID)}},
			{storage, "https://storage.azure.com/.default", nil},
		} {
			got, err := a.TokenForApp(ctx, c.scope, c.opts...)
			if err != nil || got.AccessToken != c.want.AccessToken || !got.FromCache {
				t.Errorf("cached %s (index off: %t): %v, same token %t", c.scope, noIndex, err, got.AccessToken == c.want.AccessToken)
			}
		}
	}
	if reqs.get("token") != 3 {
		t.Errorf("%d token requests after the cached calls, want 3", reqs.get("token"))
	}

	// Force refresh asks again and caches the new token.
	time.Sleep(time.Second) // the emulator reuses an app token within the second it signed it
	forced, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh())
	if err != nil || forced.FromCache || forced.AccessToken == contoso.AccessToken || reqs.get("token") != 4 {
		t.Fatalf("forced: %v, from cache %t", err, forced.FromCache)
	}
	if again, _ := a.TokenForApp(ctx, acqGraphDefault); again.AccessToken != forced.AccessToken || reqs.get("token") != 4 {
		t.Error("the forced token is not the cached one")
	}
	if again, _ := a.TokenForApp(ctx, acqGraphDefault, WithTenant(entratest.FabrikamTenantID)); again.AccessToken != fabrikam.AccessToken {
		t.Error("forcing a refresh in contoso changed fabrikam's token")
	}
}

func TestTokenForAppRoles(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	a := acqNew(t, acqConfig(e, entratest.ContosoDomain, entratest.DaemonClientID, entratest.DaemonSecret), &AcquirerOptions{HTTPClient: hc})
	tok, err := a.TokenForApp(acqContext(t), acqAPIDefault)
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := acqClaimsOf(t, tok.AccessToken)["roles"].([]any)
	if !slices.Equal(roles, []any{"ToDoList.Read.All"}) || tok.ExpiresOn.Before(time.Now().Add(time.Hour)) {
		t.Errorf("roles %v, expires %v", roles, tok.ExpiresOn)
	}
}

func TestTokenForAppErrors(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	multi := acqNew(t, acqConfig(e, "organizations", entratest.WebAPIClientID, entratest.WebAPISecret), &AcquirerOptions{HTTPClient: hc})
	daemon := acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret), &AcquirerOptions{HTTPClient: hc})
	ctx := acqContext(t)
	for _, c := range []struct {
		name  string
		a     *TokenAcquirer
		scope string
		opts  []AcquireOption
		want  string
	}{
		{"not /.default", daemon, "https://graph.microsoft.com/User.Read.All", nil, `pass "https://graph.microsoft.com/User.Read.All/.default"`},
		{"multi-tenant without a tenant", multi, acqGraphDefault, nil, "pass WithTenant"},
		{"single-tenant app in another tenant", daemon, acqGraphDefault, []AcquireOption{WithTenant(entratest.FabrikamTenantID)}, "AADSTS700016"},
		{"unknown resource", daemon, "api://unknown/.default", nil, "AADSTS500011"},
		{"bad claims", daemon, acqGraphDefault, []AcquireOption{WithClaimsChallenge("not claims!")}, "neither JSON nor base64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.a.TokenForApp(ctx, c.scope, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			var ire *InteractionRequiredError
			if errors.As(err, &ire) {
				t.Errorf("an app token error asks for a user: %v", err)
			}
		})
	}
	// A multi-tenant app names the tenant.
	if _, err := multi.TokenForApp(ctx, acqGraphDefault, WithTenant(entratest.FabrikamTenantID)); err != nil {
		t.Errorf("multi-tenant app with WithTenant: %v", err)
	}
}

// TestTokenForAppExtraQueryParameters: AzureAd:ExtraQueryParameters and WithExtraQueryParameters reach the
// token endpoint's URL.
func TestTokenForAppExtraQueryParameters(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	seen := make(chan string, 4)
	next := hc.Transport
	hc.Transport = acqRoundTripFunc(func(r *acqRequest) {
		if strings.HasSuffix(r.path, "/token") {
			seen <- r.query
		}
	}, next)
	cfg := acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret)
	cfg.AzureAd.ExtraQueryParameters = map[string]string{"slice": "testslice", "dc": "config"}
	a := acqNew(t, cfg, &AcquirerOptions{HTTPClient: hc})
	if _, err := a.TokenForApp(acqContext(t), acqGraphDefault, WithExtraQueryParameters(map[string]string{"dc": "call"})); err != nil {
		t.Fatal(err)
	}
	if q := <-seen; q != "dc=call&slice=testslice" {
		t.Errorf("token endpoint query %q", q)
	}
}
