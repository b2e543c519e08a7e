package ginidentity

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// policyFixture protects routes with each policy behind the bearer middleware.
func policyFixture(t *testing.T, configure func(*BearerOptions)) *bearerFixture {
	f := newBearerFixture(t, configure)
	api := f.engine.Group("/p", f.auth.Middleware())
	ok := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	api.GET("/scopes", RequireScopes("ToDoList.Read", "ToDoList.ReadWrite"), ok)
	api.GET("/roles", RequireRoles("ToDoList.Read.All"), ok)
	api.GET("/either", RequireScopeOrAppPermission([]string{"ToDoList.Read"}, []string{"ToDoList.Read.All"}), ok)
	api.GET("/none", RequireScopes(" "), ok)
	f.engine.GET("/unauthenticated", RequireScopes("ToDoList.Read"), ok)
	return f
}

func (f *bearerFixture) get(path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	return rec
}

func TestPolicies(t *testing.T) {
	f := policyFixture(t, nil)
	user := f.sign(claimsWith(f.claims(), map[string]any{"scp": "ToDoList.Read"}))
	app := f.sign(claimsWith(f.claims(), map[string]any{"scp": nil, "roles": []string{"ToDoList.Read.All"}, "idtyp": "app"}))
	other := f.sign(claimsWith(f.claims(), map[string]any{"scp": "User.Read", "roles": []string{"Other.Role"}}))
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/p/scopes", user, 200}, {"/p/scopes", app, 403}, {"/p/scopes", other, 403},
		{"/p/roles", user, 403}, {"/p/roles", app, 200}, {"/p/roles", other, 403},
		{"/p/either", user, 200}, {"/p/either", app, 200}, {"/p/either", other, 403},
		{"/p/none", user, 403},
		{"/unauthenticated", user, 401}, // a policy without the middleware lets nobody through
	} {
		if rec := f.get(tc.path, tc.token); rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.path, rec.Code, rec.Body, tc.want)
		}
	}
}

func TestInsufficientScopeResponse(t *testing.T) {
	f := policyFixture(t, nil)
	app := f.sign(claimsWith(f.claims(), map[string]any{"scp": nil, "roles": []string{"Other"}}))
	rec := f.get("/p/scopes", app)
	want := `Bearer error="insufficient_scope", error_description="the token carries none of the scopes this route accepts", scope="ToDoList.Read ToDoList.ReadWrite"`
	if rec.Code != http.StatusForbidden || rec.Header().Get("WWW-Authenticate") != want {
		t.Errorf("got %d %q, want 403 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "insufficient_scope" {
		t.Errorf("body %s", rec.Body)
	}
	rec = f.get("/p/roles", app)
	if !strings.Contains(rec.Body.String(), "app roles this route accepts: ToDoList.Read.All") {
		t.Errorf("a role policy does not say which roles it accepts: %s", rec.Body)
	}
}

func TestPoliciesAnswerThroughOnError(t *testing.T) {
	var seen error
	f := policyFixture(t, func(o *BearerOptions) {
		o.OnError = func(c *gin.Context, e *BearerError) { seen = e; c.AbortWithStatus(http.StatusNotFound) }
	})
	rec := f.get("/p/roles", f.sign(f.claims()))
	if rec.Code != http.StatusNotFound || !errors.Is(seen, ErrInsufficientScope) {
		t.Fatalf("got %d and %v, want the custom answer for ErrInsufficientScope", rec.Code, seen)
	}
}

const webAPISettings = `{
  "AzureAd": {
    "Instance": "INSTANCE",
    "TenantId": "` + idpTenant + `",
    "ClientId": "` + idpAPIClientID + `",
    "Audience": "https://api.contoso.example/todo",
    "Scopes": { "Read": ["ToDoList.Read", "ToDoList.ReadWrite"], "Write": ["ToDoList.ReadWrite"] },
    "AppPermissions": { "Read": ["ToDoList.Read.All", "ToDoList.ReadWrite.All"], "Write": ["ToDoList.ReadWrite.All"] }
  }
}`

func TestBearerAuthAndPoliciesFromConfig(t *testing.T) {
	f := newBearerFixture(t, nil)
	cfg, err := LoadConfigFrom("appsettings.json", []byte(strings.Replace(webAPISettings, "INSTANCE", f.idp.instance(), 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := BearerOptionsFromConfig(cfg)
	if opts.Instance != f.idp.instance() || opts.TenantID != idpTenant || opts.ClientID != idpAPIClientID ||
		len(opts.Audiences) != 1 || opts.Audiences[0] != "https://api.contoso.example/todo" {
		t.Fatalf("BearerOptionsFromConfig = %+v", opts)
	}
	opts.HTTPClient, opts.Now = f.idp.srv.Client(), f.clock.Now
	auth, err := NewBearerAuth(opts)
	if err != nil {
		t.Fatal(err)
	}
	read, err := RequireScopeOrAppPermissionFromConfig(cfg.AzureAd, "Read")
	if err != nil {
		t.Fatal(err)
	}
	write, err := RequireScopeOrAppPermissionFromConfig(cfg.AzureAd, "write") // groups match case-insensitively
	if err != nil {
		t.Fatal(err)
	}
	anyScope, err := RequireScopesFromConfig(cfg.AzureAd, "")
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	e.GET("/todo", auth.Middleware(), read, ok)
	e.POST("/todo", auth.Middleware(), write, ok)
	e.GET("/scoped", auth.Middleware(), anyScope, ok)

	reader := f.sign(claimsWith(f.claims(), map[string]any{"scp": "ToDoList.Read"}))
	daemon := f.sign(claimsWith(f.claims(), map[string]any{"scp": nil, "roles": []string{"ToDoList.Read.All"}}))
	writer := f.sign(claimsWith(f.claims(), map[string]any{"aud": "https://api.contoso.example/todo", "scp": "ToDoList.ReadWrite"}))
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/todo", reader, 200}, {"POST", "/todo", reader, 403},
		{"GET", "/todo", daemon, 200}, {"POST", "/todo", daemon, 403},
		{"GET", "/todo", writer, 200}, {"POST", "/todo", writer, 200},
		{"GET", "/scoped", daemon, 403}, {"GET", "/scoped", reader, 200},
		{"GET", "/todo", "", 401},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.want)
		}
	}

	_, err = RequireScopeOrAppPermissionFromConfig(cfg.AzureAd, "Delete")
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "AzureAd:Scopes:Delete and AzureAd:AppPermissions:Delete hold no permission") {
		t.Errorf("an empty group: %v", err)
	}
	if _, err := RequireScopesFromConfig(AzureAdOptions{}, ""); !errors.As(err, &ce) || ce.Field != "AzureAd:Scopes" {
		t.Errorf("no scopes configured: %v", err)
	}
}

func TestNewBearerAuthFromConfigValidatesAsAWebAPI(t *testing.T) {
	_, err := NewBearerAuthFromConfig(&Config{AzureAd: AzureAdOptions{Scopes: PermissionSet{Values: []string{"access_as_user"}}}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "AzureAd:ClientId is required") ||
		!strings.Contains(err.Error(), "AzureAd:TenantId is required") {
		t.Fatalf("got %v, want ConfigErrors for ClientId and TenantId", err)
	}
	cfg, err := LoadConfigFrom("appsettings.json", []byte(strings.Replace(webAPISettings, "INSTANCE", "https://login.microsoftonline.com/", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewBearerAuthFromConfig(cfg); err != nil {
		t.Fatalf("a valid web API configuration: %v", err)
	}
}
