package ginidentity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// These tests validate tokens the emulator issues, as a web API protected by the kit would receive them.

type emulatorClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *emulatorClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *emulatorClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// todoAPI is the TodoList API's authorization: reads need ToDoList.Read(Write) or the matching app
// permission, writes need ToDoList.ReadWrite or ToDoList.ReadWrite.All.
func todoAPI(t *testing.T, e *entratest.Emulator, configure func(*ginidentity.BearerOptions)) (*gin.Engine, *emulatorClock) {
	t.Helper()
	clock := &emulatorClock{}
	opts := ginidentity.BearerOptions{
		Instance:   e.Instance(),
		TenantID:   entratest.ContosoTenantID,
		ClientID:   entratest.WebAPIClientID,
		HTTPClient: e.HTTPClient(),
		Now:        clock.Now,
	}
	if configure != nil {
		configure(&opts)
	}
	auth, err := ginidentity.NewBearerAuth(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	api := r.Group("/api", auth.Middleware())
	api.GET("/todolist", ginidentity.RequireScopeOrAppPermission(
		[]string{"ToDoList.Read", "ToDoList.ReadWrite"}, []string{"ToDoList.Read.All", "ToDoList.ReadWrite.All"}),
		func(c *gin.Context) {
			cl, _ := ginidentity.ClaimsFrom(c)
			c.String(http.StatusOK, "%s|%s|%v", cl.ObjectID(), cl.TenantID(), cl.IsAppOnly())
		})
	api.POST("/todolist", ginidentity.RequireScopeOrAppPermission([]string{"ToDoList.ReadWrite"}, []string{"ToDoList.ReadWrite.All"}),
		func(c *gin.Context) { c.Status(http.StatusCreated) })
	return r, clock
}

func call(r *gin.Engine, method, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/api/todolist", strings.NewReader(`{"title":"x"}`))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func userToken(t *testing.T, e *entratest.Emulator, user string, change map[string]any, scopes ...string) string {
	t.Helper()
	claims, err := e.UserTokenClaims(user, entratest.WebAppClientID, entratest.WebAPIClientID, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		claims[k] = v
	}
	tok, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// daemonToken gets an app-only token for the web API from the emulator's token endpoint with MSAL Go.
func daemonToken(t *testing.T, e *entratest.Emulator) string {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(entratest.DaemonSecret)
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := confidential.New(e.Authority(entratest.ContosoTenantID), entratest.DaemonClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := daemon.AcquireTokenByCredential(context.Background(), []string{entratest.WebAPIAppIDURI + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	return res.AccessToken
}

func TestEmulatorTokensAgainstTheTodoListAPI(t *testing.T) {
	e := entratest.Start(t)
	r, _ := todoAPI(t, e, nil)
	alice := userToken(t, e, entratest.Alice, nil, "ToDoList.Read")
	daemon := daemonToken(t, e)
	writer := userToken(t, e, entratest.Bob, nil, "ToDoList.ReadWrite")

	for _, tc := range []struct {
		name, method, token string
		want                int
	}{
		{"alice reads", "GET", alice, 200}, {"alice cannot write", "POST", alice, 403},
		{"daemon reads", "GET", daemon, 200}, {"daemon cannot write", "POST", daemon, 403},
		{"bob writes", "POST", writer, 201},
		{"no token", "GET", "", 401}, {"no token writing", "POST", "", 401},
	} {
		if rec := call(r, tc.method, tc.token); rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	if got := call(r, "GET", alice).Body.String(); got != "a11ce000-0000-4000-8000-00000000a11c|"+entratest.ContosoTenantID+"|false" {
		t.Errorf("alice's claims: %s", got)
	}
	if got := call(r, "GET", daemon).Body.String(); !strings.HasSuffix(got, "|true") {
		t.Errorf("the daemon's token is not app-only: %s", got)
	}
	if rec := call(r, "POST", alice); !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="ToDoList.ReadWrite"`) {
		t.Errorf("403 challenge: %q", rec.Header().Get("WWW-Authenticate"))
	}
}

func TestEmulatorV1AndForeignTokens(t *testing.T) {
	e := entratest.Start(t)
	r, _ := todoAPI(t, e, nil)
	v1 := userToken(t, e, entratest.Alice, map[string]any{"ver": "1.0", "iss": "https://sts.windows.net/" + entratest.ContosoTenantID + "/",
		"aud": entratest.WebAPIAppIDURI, "appid": entratest.WebAppClientID}, "ToDoList.Read")
	if rec := call(r, "GET", v1); rec.Code != http.StatusOK {
		t.Errorf("a v1.0 token: %d %s", rec.Code, rec.Body)
	}
	carol := userToken(t, e, entratest.Carol, nil, "ToDoList.Read")
	if rec := call(r, "GET", carol); rec.Code != http.StatusUnauthorized {
		t.Errorf("fabrikam's user on contoso's single-tenant API: %d", rec.Code)
	}
	graph := userToken(t, e, entratest.Alice, map[string]any{"aud": entratest.GraphAppID}, "ToDoList.Read")
	if rec := call(r, "GET", graph); rec.Code != http.StatusUnauthorized {
		t.Errorf("a token for Graph: %d", rec.Code)
	}
	expired := userToken(t, e, entratest.Alice, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}, "ToDoList.Read")
	if rec := call(r, "GET", expired); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "expired") {
		t.Errorf("an expired token: %d %s", rec.Code, rec.Body)
	}
}

func TestEmulatorMultiTenant(t *testing.T) {
	e := entratest.Start(t)
	carol := userToken(t, e, entratest.Carol, nil, "ToDoList.Read")
	alice := userToken(t, e, entratest.Alice, nil, "ToDoList.Read")
	anyTenant, _ := todoAPI(t, e, func(o *ginidentity.BearerOptions) { o.TenantID = "organizations" })
	for name, tok := range map[string]string{"carol": carol, "alice": alice} {
		if rec := call(anyTenant, "GET", tok); rec.Code != http.StatusOK {
			t.Errorf("%s on a multi-tenant API: %d %s", name, rec.Code, rec.Body)
		}
	}
	contosoOnly, _ := todoAPI(t, e, func(o *ginidentity.BearerOptions) {
		o.TenantID = "common"
		o.AllowedTenants = []string{entratest.ContosoTenantID}
	})
	if rec := call(contosoOnly, "GET", carol); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "tenant") {
		t.Errorf("carol with contoso as the only allowed tenant: %d %s", rec.Code, rec.Body)
	}
	if rec := call(contosoOnly, "GET", alice); rec.Code != http.StatusOK {
		t.Errorf("alice with contoso allowed: %d", rec.Code)
	}
}

func TestEmulatorSigningKeyRotation(t *testing.T) {
	e := entratest.Start(t)
	r, clock := todoAPI(t, e, nil)
	before := userToken(t, e, entratest.Alice, nil, "ToDoList.Read")
	if rec := call(r, "GET", before); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if err := e.RotateSigningKeys(); err != nil {
		t.Fatal(err)
	}
	after := userToken(t, e, entratest.Alice, nil, "ToDoList.Read")
	clock.Advance(ginidentity.DefaultUnknownKeyRefreshInterval)
	if rec := call(r, "GET", after); rec.Code != http.StatusOK {
		t.Fatalf("a token signed with the new key: %d %s", rec.Code, rec.Body)
	}
	if rec := call(r, "GET", before); rec.Code != http.StatusOK {
		t.Fatalf("a token signed with the retired, still published key: %d %s", rec.Code, rec.Body)
	}
}

func TestEmulatorKeysDownAtStartThenBack(t *testing.T) {
	e := entratest.Start(t)
	r, clock := todoAPI(t, e, func(o *ginidentity.BearerOptions) { o.KeyRefreshInterval = 10 * time.Minute })
	e.FailEndpoint(entratest.EndpointKeys, http.StatusServiceUnavailable, 0)
	alice := userToken(t, e, entratest.Alice, nil, "ToDoList.Read")
	if rec := call(r, "GET", alice); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("keys down at start: %d %s", rec.Code, rec.Body)
	}
	e.ClearFaults()
	clock.Advance(2 * time.Second)
	if rec := call(r, "GET", alice); rec.Code != http.StatusOK {
		t.Fatalf("keys back: %d %s", rec.Code, rec.Body)
	}

	e.FailEndpoint(entratest.EndpointDiscovery, http.StatusInternalServerError, 0)
	clock.Advance(11 * time.Minute) // the keys are stale: each request may try to refresh them
	for range 3 {
		if rec := call(r, "GET", alice); rec.Code != http.StatusOK {
			t.Fatalf("discovery down later, keys held: %d %s", rec.Code, rec.Body)
		}
	}
}
