package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

func init() { gin.SetMode(gin.TestMode) }

// userToken is an access token the emulator would issue to the sample web app for the user, for this API.
func userToken(t *testing.T, e *entratest.Emulator, user string, scopes ...string) string {
	t.Helper()
	claims, err := e.UserTokenClaims(user, entratest.WebAppClientID, entratest.WebAPIClientID, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// appToken is an app-only token of the daemon for this API with the roles.
func appToken(t *testing.T, e *entratest.Emulator, roles ...string) string {
	t.Helper()
	claims, err := e.AppTokenClaims(entratest.DaemonClientID, entratest.WebAPIClientID, roles...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// daemonToken is the daemon's token for this API, from the emulator's token endpoint through MSAL Go, as
// the sample daemon gets it: the default directory grants it ToDoList.Read.All.
func daemonToken(t *testing.T, e *entratest.Emulator) string {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(entratest.DaemonSecret)
	if err != nil {
		t.Fatal(err)
	}
	client, err := confidential.New(e.Authority(entratest.ContosoTenantID), entratest.DaemonClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.AcquireTokenByCredential(context.Background(), []string{entratest.WebAPIAppIDURI + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	return res.AccessToken
}

// emulatorConfig configures the web API against the test's emulator, as local mode does against the shared one.
func emulatorConfig(e *entratest.Emulator) *ginidentity.Config {
	return &ginidentity.Config{
		AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: "organizations",
			ClientID: entratest.WebAPIClientID, ClientSecret: entratest.WebAPISecret},
		MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: e.GraphURL()},
	}
}

func startAPI(t *testing.T, e *entratest.Emulator) *httptest.Server {
	t.Helper()
	router, err := newRouter(emulatorConfig(e), apiOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return srv
}

// response is what a test reads of an answer.
type response struct {
	status    int
	challenge string
	body      []byte
}

func call(t *testing.T, method, url, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b}
}

func todos(t *testing.T, r response) []Todo {
	t.Helper()
	var list []Todo
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return list
}

// The routes answer each kind of caller as issue 3 asks.
func TestPermissions(t *testing.T) {
	e := entratest.Start(t)
	srv := startAPI(t, e)
	list := srv.URL + "/api/todolist"
	aliceRead := userToken(t, e, entratest.Alice, "ToDoList.Read")
	daemon := daemonToken(t, e)
	graphToken := func() string { // a valid token of alice, for another resource
		c, err := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.GraphResource, "User.Read")
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := e.IssueToken(c)
		return tok
	}()

	for _, tc := range []struct {
		name, method, token, body string
		status                    int
		challenge                 string // a prefix of WWW-Authenticate
	}{
		{"alice with ToDoList.Read lists", "GET", aliceRead, "", 200, ""},
		{"alice with ToDoList.Read cannot add", "POST", aliceRead, `{"title":"x"}`, 403, `Bearer error="insufficient_scope"`},
		{"the daemon lists", "GET", daemon, "", 200, ""},
		{"the daemon (ToDoList.Read.All) cannot add", "POST", daemon, `{"title":"x"}`, 403, `Bearer error="insufficient_scope"`},
		{"no token on GET", "GET", "", "", 401, "Bearer"},
		{"no token on POST", "POST", "", `{"title":"x"}`, 401, "Bearer"},
		{"a token for Graph", "GET", graphToken, "", 401, `Bearer error="invalid_token"`},
		{"an app token with ToDoList.ReadWrite.All adds", "POST", appToken(t, e, "ToDoList.ReadWrite.All"), `{"title":"from the app"}`, 201, ""},
		{"an app token without roles", "GET", appToken(t, e), "", 401, `Bearer error="invalid_token"`},
		{"a user token with ToDoList.ReadWrite adds", "POST", userToken(t, e, entratest.Bob, "ToDoList.ReadWrite"), `{"title":"bob's"}`, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, list, tc.token, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.challenge != "" && !strings.HasPrefix(r.challenge, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to start with %q", r.challenge, tc.challenge)
			}
			if tc.challenge == "" && r.challenge != "" {
				t.Errorf("WWW-Authenticate %q on a success", r.challenge)
			}
		})
	}
}

// A user sees and writes only their own items, keyed by tenant and object id; an app sees every item.
func TestEachUserSeesTheirOwnItems(t *testing.T) {
	e := entratest.Start(t)
	srv := startAPI(t, e)
	list := srv.URL + "/api/todolist"
	alice := userToken(t, e, entratest.Alice, "ToDoList.ReadWrite")
	bob := userToken(t, e, entratest.Bob, "ToDoList.ReadWrite")
	carol := userToken(t, e, entratest.Carol, "ToDoList.ReadWrite") // another tenant of the multi-tenant API

	r := call(t, "POST", list, alice, `{"title":"  Buy milk  "}`)
	if r.status != http.StatusCreated {
		t.Fatalf("alice's POST: %d %s", r.status, r.body)
	}
	var created Todo
	if err := json.Unmarshal(r.body, &created); err != nil || created.Title != "Buy milk" || created.ID == 0 ||
		created.Owner != "a11ce000-0000-4000-8000-00000000a11c" {
		t.Fatalf("created %+v (%v), want alice's trimmed item", created, err)
	}
	if r := call(t, "POST", list, carol, `{"title":"Carol's"}`); r.status != http.StatusCreated {
		t.Fatalf("carol's POST: %d %s", r.status, r.body)
	}

	if got := todos(t, call(t, "GET", list, alice, "")); len(got) != 1 || got[0] != created {
		t.Errorf("alice sees %+v, want only %+v", got, created)
	}
	if got := todos(t, call(t, "GET", list, bob, "")); len(got) != 0 {
		t.Errorf("bob sees %+v, want nothing", got)
	}
	if got := todos(t, call(t, "GET", list, carol, "")); len(got) != 1 || got[0].Title != "Carol's" {
		t.Errorf("carol sees %+v, want only her item", got)
	}
	if got := todos(t, call(t, "GET", list, daemonToken(t, e), "")); len(got) != 2 {
		t.Errorf("the daemon sees %+v, want every item", got)
	}

	// The same object id in another tenant is another owner.
	claims, err := e.UserTokenClaims(entratest.Alice, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.Read")
	if err != nil {
		t.Fatal(err)
	}
	claims["tid"] = entratest.FabrikamTenantID
	claims["iss"] = e.URL() + "/" + entratest.FabrikamTenantID + "/v2.0"
	otherTenant, err := e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", list, otherTenant, ""); r.status != 200 || len(todos(t, r)) != 0 {
		t.Errorf("alice's object id in fabrikam: %d %s, want an empty list", r.status, r.body)
	}
}

// Bad bodies are refused with 400 and a description; nothing is stored.
func TestBadItems(t *testing.T) {
	e := entratest.Start(t)
	srv := startAPI(t, e)
	list := srv.URL + "/api/todolist"
	alice := userToken(t, e, entratest.Alice, "ToDoList.ReadWrite")
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `title=x`, "JSON object"},
		{"an array", `["x"]`, "JSON object"},
		{"no title", `{}`, "title"},
		{"a blank title", `{"title":"   "}`, "blank"},
		{"a number", `{"title":42}`, "JSON object"},
		{"too long", `{"title":"` + strings.Repeat("é", 257) + `"}`, "256"},
		{"a control character", `{"title":"a\u0000b"}`, "UTF-8 text"},
		{"too large", `{"title":"` + strings.Repeat("x", maxBodyBytes) + `"}`, "JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", list, alice, tc.body)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("%d %s, want 400 mentioning %q", r.status, r.body, tc.want)
			}
		})
	}
	if got := todos(t, call(t, "GET", list, alice, "")); len(got) != 0 {
		t.Errorf("after bad requests alice has %+v", got)
	}
}

// A list holds at most maxItemsPerOwner items; the next is refused and the others are kept.
func TestListBound(t *testing.T) {
	s := newTodoStore()
	key := ownerKey("t", "o")
	for i := range maxItemsPerOwner {
		if _, err := s.add(key, "o", "item"); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if _, err := s.add(key, "o", "one more"); err != errListFull {
		t.Fatalf("item %d: %v, want errListFull", maxItemsPerOwner+1, err)
	}
	if _, err := s.add(ownerKey("t", "other"), "other", "item"); err != nil {
		t.Fatalf("another owner: %v", err)
	}
	if n := len(s.list(key, false)); n != maxItemsPerOwner {
		t.Fatalf("%d items kept", n)
	}
}

// A configuration naming no web API is refused, naming the setting to fix.
func TestConfigurationErrors(t *testing.T) {
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{TenantID: "organizations"}}
	_, err := newRouter(cfg, apiOptions{})
	if err == nil || !strings.Contains(err.Error(), "AzureAd:ClientId") {
		t.Fatalf("err %v, want one naming AzureAd:ClientId", err)
	}
}

// GET /api/me reads the caller's name from Graph on behalf of the caller; a claims challenge from Graph is
// answered by the API itself; app tokens and callers without a token are refused.
func TestMe(t *testing.T) {
	e := entratest.Start(t)
	srv := startAPI(t, e)
	me := srv.URL + "/api/me"
	alice := userToken(t, e, entratest.Alice, "ToDoList.Read")
	if r := call(t, "GET", me, alice, ""); r.status != 200 || string(r.body) != `{"displayName":"Alice Smith"}` {
		t.Fatalf("alice: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", me, userToken(t, e, entratest.Carol, "ToDoList.ReadWrite"), ""); r.status != 200 || string(r.body) != `{"displayName":"Carol Lee"}` {
		t.Fatalf("carol: %d %s", r.status, r.body)
	}
	if _, err := e.RequireClaimsChallenge(entratest.Alice); err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", me, alice, ""); r.status != 200 || string(r.body) != `{"displayName":"Alice Smith"}` {
		t.Fatalf("alice after a claims challenge: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", me, daemonToken(t, e), ""); r.status != http.StatusForbidden {
		t.Fatalf("the daemon: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", me, "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
}

// When the API may not call Graph for the caller, the answer says what to do.
func TestMeErrors(t *testing.T) {
	e := entratest.Start(t)
	alice := userToken(t, e, entratest.Alice, "ToDoList.Read")
	for _, tc := range []struct {
		name   string
		edit   func(*ginidentity.Config)
		status int
		want   string
	}{
		{"a scope nobody consented to", func(c *ginidentity.Config) { c.MicrosoftGraph.Scopes = []string{"Mail.Read"} },
			http.StatusForbidden, "consent to Mail.Read"},
		{"no client credential", func(c *ginidentity.Config) { c.AzureAd.ClientSecret = "" }, http.StatusNotImplemented, "AzureAd:ClientCredentials"},
		{"a wrong client secret", func(c *ginidentity.Config) { c.AzureAd.ClientSecret = "wrong" }, http.StatusBadGateway, "graph_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := emulatorConfig(e)
			tc.edit(cfg)
			router, err := newRouter(cfg, apiOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/api/me", nil)
			req.Header.Set("Authorization", "Bearer "+alice)
			router.ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) || strings.Contains(w.Body.String(), "eyJ") {
				t.Fatalf("%d %s, want %d mentioning %q", w.Code, w.Body, tc.status, tc.want)
			}
		})
	}
}

// lockedBuffer collects log output written from other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// With no configuration the program runs in local mode: it uses the emulator of the shared state directory
// (here one the test started on a free port), says so in its first log line, and accepts its tokens.
func TestLocalMode(t *testing.T) {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(strings.ToLower(kv), "azuread__") {
			t.Skipf("%s is set: local mode needs no AzureAd configuration", strings.SplitN(kv, "=", 2)[0])
		}
	}
	stateDir := t.TempDir()
	shared, err := entratest.Local(context.Background(), entratest.WithLocalAddr("127.0.0.1:0"), entratest.WithStateDir(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	e := shared.Emulator()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{logOutput: logs, listener: ln, local: []entratest.LocalOption{
			entratest.WithLocalAddr(strings.TrimPrefix(e.URL(), "https://")), entratest.WithStateDir(stateDir)}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	waitFor(t, func() bool { return strings.Contains(logs.String(), "listening") }, logs)
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "local mode") || !strings.Contains(first, e.URL()) || !strings.Contains(first, entratest.WebAPIClientID) {
		t.Fatalf("first log line %q, want it to name local mode, the emulator and the client id", first)
	}
	list := "http://" + ln.Addr().String() + "/api/todolist"
	if r := call(t, "GET", list, userToken(t, e, entratest.Carol, "ToDoList.Read"), ""); r.status != http.StatusOK {
		t.Errorf("carol (fabrikam) in local mode: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", list, "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token in local mode: %d", r.status)
	}
	me := "http://" + ln.Addr().String() + "/api/me"
	if r := call(t, "GET", me, userToken(t, e, entratest.Alice, "ToDoList.Read"), ""); r.status != 200 || string(r.body) != `{"displayName":"Alice Smith"}` {
		t.Errorf("/api/me in local mode: %d %s", r.status, r.body)
	}
}

// The program builds and runs as a program: configured through appsettings.json and AzureAd__* variables
// against an Entra-shaped issuer (the test's emulator, on its own port) whose CA it trusts through
// SSL_CERT_FILE, as a single-tenant API of contoso. It stops cleanly on SIGTERM.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	e := entratest.Start(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "webapi")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, e.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := `{
  // as a real deployment: the instance and the app in the file, the tenant from the environment
  "AzureAd": { "Instance": "` + e.Instance() + `", "ClientId": "` + entratest.WebAPIClientID + `" },
}`
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	var env []string
	for _, kv := range os.Environ() {
		if k := strings.ToLower(kv); !strings.HasPrefix(k, "azuread__") && !strings.HasPrefix(k, "port=") && !strings.HasPrefix(k, "ssl_cert_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(env, "PORT="+port, "SSL_CERT_FILE="+caFile, "AzureAd__TenantId="+entratest.ContosoTenantID,
		"AzureAd__ClientSecret="+entratest.WebAPISecret, "MicrosoftGraph__BaseUrl="+e.GraphURL())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	logs := &lockedBuffer{}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
		}
	}()
	waitFor(t, func() bool { return strings.Contains(logs.String(), "listening") }, logs)
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "configured mode") || !strings.Contains(first, e.Authority(entratest.ContosoTenantID)) {
		t.Fatalf("first log line %q, want it to name the configured mode and the authority", first)
	}

	list := "http://127.0.0.1:" + port + "/api/todolist"
	if r := call(t, "GET", list, userToken(t, e, entratest.Alice, "ToDoList.Read"), ""); r.status != http.StatusOK {
		t.Errorf("alice: %d %s; logs:\n%s", r.status, r.body, logs.String())
	}
	if r := call(t, "GET", list, userToken(t, e, entratest.Carol, "ToDoList.Read"), ""); r.status != http.StatusUnauthorized {
		t.Errorf("carol of fabrikam on contoso's single-tenant API: %d %s", r.status, r.body)
	}
	me := "http://127.0.0.1:" + port + "/api/me"
	if r := call(t, "GET", me, userToken(t, e, entratest.Alice, "ToDoList.Read"), ""); r.status != 200 || string(r.body) != `{"displayName":"Alice Smith"}` {
		t.Errorf("/api/me: %d %s; logs:\n%s", r.status, r.body, logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Error("still running 15s after SIGTERM")
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Errorf("the logs hold a token:\n%s", logs.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func waitFor(t *testing.T, cond func() bool, logs *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
