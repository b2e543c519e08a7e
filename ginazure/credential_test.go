package ginazure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/internal/kittest"
)

// The helpers the downstream packages' tests share.
var (
	testContext   = kittest.Context
	acquirer      = kittest.Acquirer
	callerContext = kittest.CallerContext
)

func init() { gin.SetMode(gin.TestMode) }

// fakeTokens is a TokenAcquirer recording what it is asked.
type fakeTokens struct {
	mu    sync.Mutex
	calls []tokenCall
	err   error
}

type tokenCall struct {
	app     bool
	scopes  []string
	user    string
	options int
}

func (f *fakeTokens) answer(c tokenCall) (ginidentity.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if f.err != nil {
		return ginidentity.Token{}, f.err
	}
	return ginidentity.Token{AccessToken: "token-for-" + c.user + strings.Join(c.scopes, ","), ExpiresOn: time.Unix(2e9, 0)}, nil
}

func (f *fakeTokens) TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	cl, ok := ginidentity.ClaimsFromContext(ctx)
	if !ok {
		return ginidentity.Token{}, ginidentity.ErrNoUser
	}
	return f.answer(tokenCall{scopes: scopes, user: cl.ObjectID(), options: len(opts)})
}

func (f *fakeTokens) TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	return f.answer(tokenCall{app: true, scopes: []string{scope}, user: "app", options: len(opts)})
}

func userContext(oid string) context.Context {
	return ginidentity.WithClaims(context.Background(), ginidentity.NewClaims(map[string]any{"oid": oid, "tid": "t"}, ""))
}

func TestGetToken(t *testing.T) {
	tokens := &fakeTokens{}
	user, err := NewUserCredential(userContext("alice"), tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The user is bound at construction: GetToken acts for alice whatever its context.
	tok, err := user.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
	if err != nil || tok.Token != "token-for-alicehttps://storage.azure.com/.default" || !tok.ExpiresOn.Equal(time.Unix(2e9, 0)) {
		t.Fatalf("%v %+v", err, tok)
	}
	if _, err := user.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"s"}, TenantID: "t2", Claims: `{"access_token":{}}`}); err != nil {
		t.Fatal(err)
	}
	scoped, err := NewUserCredential(userContext("bob"), tokens, &CredentialOptions{Scopes: []string{"https://storage.azure.com/user_impersonation"},
		AcquireOptions: []ginidentity.AcquireOption{ginidentity.WithForceRefresh()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scoped.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}}); err != nil {
		t.Fatal(err)
	}
	app, err := NewAppCredential(tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err != nil {
		t.Fatal(err)
	}
	want := []tokenCall{
		{scopes: []string{"https://storage.azure.com/.default"}, user: "alice"},
		{scopes: []string{"s"}, user: "alice", options: 2}, // the tenant and the claims
		{scopes: []string{"https://storage.azure.com/user_impersonation"}, user: "bob", options: 1},
		{app: true, scopes: []string{"https://vault.azure.net/.default"}, user: "app"},
	}
	if len(tokens.calls) != len(want) {
		t.Fatalf("calls %+v", tokens.calls)
	}
	for i, w := range want {
		g := tokens.calls[i]
		if g.app != w.app || strings.Join(g.scopes, " ") != strings.Join(w.scopes, " ") || g.user != w.user || g.options != w.options {
			t.Errorf("call %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestCredentialErrors(t *testing.T) {
	tokens := &fakeTokens{}
	if _, err := NewUserCredential(context.Background(), tokens, nil); !errors.Is(err, ginidentity.ErrNoUser) {
		t.Errorf("no user: %v", err)
	}
	if _, err := NewUserCredential(userContext("a"), nil, nil); err == nil || !strings.Contains(err.Error(), "NewTokenAcquirer") {
		t.Errorf("no acquirer: %v", err)
	}
	if _, err := NewAppCredential(tokens, &CredentialOptions{Scopes: []string{"https://storage.azure.com/user_impersonation"}}); err == nil ||
		!strings.Contains(err.Error(), "/.default") {
		t.Errorf("app with delegated scopes: %v", err)
	}
	app, _ := NewAppCredential(tokens, nil)
	if _, err := app.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"a/.default", "b/.default"}}); err == nil {
		t.Error("two scopes for an app token")
	}
	if _, err := app.GetToken(context.Background(), policy.TokenRequestOptions{}); err == nil || !strings.Contains(err.Error(), "no scopes") {
		t.Errorf("no scopes: %v", err)
	}
	if len(tokens.calls) != 0 {
		t.Errorf("the acquirer was asked: %+v", tokens.calls)
	}
}

// A handler passes its *gin.Context: the credential acts for the user of the request.
func TestUserFromGinContext(t *testing.T) {
	tokens := &fakeTokens{}
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Request = c.Request.WithContext(ginidentity.WithClaims(c.Request.Context(), ginidentity.NewClaims(map[string]any{"oid": "carol"}, "")))
	})
	var cred *Credential
	var err error
	r.GET("/", func(c *gin.Context) { cred, err = NewUserCredential(c, tokens, nil) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"x/.default"}}); err != nil || tokens.calls[0].user != "carol" {
		t.Fatalf("%v %+v", err, tokens.calls)
	}
}

// When the user must act, an Azure SDK client's error still lets errors.As find the acquirer's error.
func TestInteractionRequiredThroughTheAzureSDK(t *testing.T) {
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the storage account was called: %s %s", r.Method, r.URL)
	}))
	defer server.Close()
	interaction := &ginidentity.InteractionRequiredError{Scopes: []string{"https://storage.azure.com/.default"}, Reason: "consent missing (AADSTS65001)"}
	cred, err := NewUserCredential(userContext("alice"), &fakeTokens{err: interaction}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClient(server.URL+"/account", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: server.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateContainer(context.Background(), "todos", nil)
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || ie != interaction {
		t.Fatalf("%v, want the InteractionRequiredError", err)
	}
}

// With the real acquirer and the emulator: a web API's caller gets a v1.0 token for Azure Storage on
// behalf of its token, shaped as Storage (and Azurite) accept it.
func TestStorageTokenOnBehalfOfTheCaller(t *testing.T) {
	e := entratest.Start(t, entratest.WithDirectory(storageConsentedDirectory()))
	cred, err := NewUserCredential(callerContext(t, e, entratest.Alice), webAPIAcquirer(t, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(testContext(t), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	claims := payload(t, tok.Token)
	if claims["iss"] != "https://sts.windows.net/"+entratest.ContosoTenantID+"/" || claims["aud"] != "https://storage.azure.com" ||
		claims["scp"] != "user_impersonation" || claims["oid"] != "a11ce000-0000-4000-8000-00000000a11c" {
		t.Fatalf("claims %v", claims)
	}
	if time.Until(tok.ExpiresOn) < 30*time.Minute {
		t.Fatalf("expires on %v", tok.ExpiresOn)
	}
	// Without the consent, the user must consent: the error says so.
	e2 := entratest.Start(t)
	cred, err = NewUserCredential(callerContext(t, e2, entratest.Alice), webAPIAcquirer(t, e2), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(testContext(t), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "consent") || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("%v, want an InteractionRequiredError about consent", err)
	}
}

// storageConsentedDirectory is the default directory where an admin consented to Azure Storage's
// user_impersonation for the sample web API, so that it can call Storage on behalf of its callers.
func storageConsentedDirectory() *entratest.Directory {
	d := entratest.DefaultDirectory()
	for i := range d.Apps {
		if d.Apps[i].ClientID == entratest.WebAPIClientID {
			d.Apps[i].ConsentedScopes[entratest.StorageResource] = []string{"user_impersonation"}
		}
	}
	return d
}

func webAPIAcquirer(t testing.TB, e *entratest.Emulator) *ginidentity.TokenAcquirer {
	return acquirer(t, e, "organizations", entratest.WebAPIClientID, entratest.WebAPISecret)
}

// payload decodes a token's claims, for assertions (not validation).
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
