package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

func init() { gin.SetMode(gin.TestMode) }

// emulatorConfig configures the web app against the test's emulator, as local mode does against the shared
// one.
func emulatorConfig(e *entratest.Emulator) *ginidentity.Config {
	return &ginidentity.Config{
		AzureAd:        localAzureAd(e.Instance()),
		MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: e.GraphURL()},
	}
}

// startApp serves the web app against the emulator on a free port and returns its URL on localhost.
func startApp(t *testing.T, e *entratest.Emulator) string {
	t.Helper()
	router, err := newRouter(emulatorConfig(e), appOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, router)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// client is a cookie-keeping HTTP client that trusts the emulator and follows redirects, answering the
// emulator's pages as a user would: a stand-in for a browser, for the tests that need no real one.
type client struct {
	t *testing.T
	c *http.Client
}

func newClient(t *testing.T, e *entratest.Emulator) *client {
	jar, _ := cookiejar.New(nil)
	c := e.HTTPClient()
	c.Jar = jar
	return &client{t: t, c: c}
}

// page is a response's final URL, status and body.
type page struct {
	url    string
	status int
	body   string
}

func (c *client) do(method, u string, form url.Values) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{url: resp.Request.URL.String(), status: resp.StatusCode, body: string(b)}
}

var (
	formAction = regexp.MustCompile(`<form id="(\w+)" method="post"[^>]*action="([^"]*)"`)
	hiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// answer submits the page's form (the emulator's sign-in, consent or form_post page, or the app's
// resubmit page) with fields, and returns where that leads.
func (c *client) answer(p page, fields ...string) page {
	c.t.Helper()
	m := formAction.FindStringSubmatch(p.body)
	if m == nil {
		c.t.Fatalf("no form at %s (%d):\n%s", p.url, p.status, p.body)
	}
	base, _ := url.Parse(p.url)
	action, err := base.Parse(htmlUnescape(m[2]))
	if err != nil {
		c.t.Fatal(err)
	}
	v := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		v.Set(h[1], htmlUnescape(h[2]))
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	return c.do(http.MethodPost, action.String(), v)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// through answers the emulator's and the app's pages until a page of the app that has no form to answer.
func (c *client) through(p page, user string) page {
	c.t.Helper()
	for range 6 {
		switch {
		case strings.Contains(p.body, `<form id="signin"`):
			p = c.answer(p, "username", user, "password", entratest.UserPassword)
		case strings.Contains(p.body, `<form id="consent"`):
			p = c.answer(p, "consent", "accept")
		case strings.Contains(p.body, `<form id="response"`), strings.Contains(p.body, `<form id="resubmit"`):
			p = c.answer(p)
		default:
			return p
		}
	}
	c.t.Fatalf("stuck at %s:\n%s", p.url, p.body)
	return p
}

// The sample's pages, through sign-in, consent, a claims challenge from Graph, and sign-out.
func TestPages(t *testing.T) {
	e := entratest.Start(t)
	base := startApp(t, e)
	c := newClient(t, e)

	if p := c.do("GET", base+"/", nil); !strings.Contains(p.body, `id="sign-in"`) || !strings.Contains(p.body, "not signed in") {
		t.Fatalf("/ anonymous: %d %s", p.status, p.body)
	}
	p := c.through(c.do("GET", base+"/profile", nil), entratest.Carol)
	if p.url != base+"/profile" || !strings.Contains(p.body, `<span id="user-name">Carol Lee</span>`) ||
		!strings.Contains(p.body, `<td id="claim-tid">`+entratest.FabrikamTenantID+`</td>`) {
		t.Fatalf("/profile: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if p := c.do("GET", base+"/", nil); !strings.Contains(p.body, "Hello, Carol Lee.") {
		t.Fatalf("/ signed in: %s", p.body)
	}

	p = c.do("GET", base+"/mail", nil)
	if !strings.Contains(p.body, `<form id="consent"`) || !strings.Contains(p.body, "Mail.Read") {
		t.Fatalf("/mail did not ask for consent: %d at %s", p.status, p.url)
	}
	p = c.through(p, entratest.Carol)
	if p.url != base+"/mail" || strings.Count(p.body, `<tr class="message">`) == 0 {
		t.Fatalf("/mail after consent: %d at %s:\n%s", p.status, p.url, p.body)
	}

	// Graph demands more claims (continuous access evaluation): the user signs in again and gets the page.
	if _, err := e.RequireClaimsChallenge(entratest.Carol); err != nil {
		t.Fatal(err)
	}
	p = c.do("GET", base+"/mail", nil)
	if !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, `<form id="response"`) {
		t.Fatalf("/mail with a claims challenge did not go through the identity provider: %d at %s", p.status, p.url)
	}
	p = c.through(p, entratest.Carol)
	if p.url != base+"/mail" || strings.Count(p.body, `<tr class="message">`) == 0 {
		t.Fatalf("/mail after a claims challenge: %d at %s:\n%s", p.status, p.url, p.body)
	}

	p = c.do("GET", base+"/auth/signout", nil)
	if p.url != base+"/" || !strings.Contains(p.body, "not signed in") {
		t.Fatalf("after sign-out: %d at %s", p.status, p.url)
	}
	if p := c.do("GET", base+"/profile", nil); !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, `<form id="signin"`) {
		t.Fatalf("/profile after sign-out: %d at %s", p.status, p.url)
	}
}

// Values from the identity provider are escaped in the pages.
func TestPagesEscape(t *testing.T) {
	dir := entratest.DefaultDirectory()
	dir.Users[0].DisplayName = `<script>alert("x")</script>`
	e := entratest.Start(t, entratest.WithDirectory(dir))
	base := startApp(t, e)
	c := newClient(t, e)
	p := c.through(c.do("GET", base+"/profile", nil), dir.Users[0].UserPrincipalName)
	if p.url != base+"/profile" || strings.Contains(p.body, `<script>alert`) || !strings.Contains(p.body, `&lt;script&gt;alert`) {
		t.Fatalf("profile of a user named with markup: %d at %s:\n%s", p.status, p.url, p.body)
	}
}

// A configuration naming no web app is refused, naming the settings to fix.
func TestConfigurationErrors(t *testing.T) {
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{TenantID: "organizations"}}
	_, err := newRouter(cfg, appOptions{Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "AzureAd:ClientId") {
		t.Fatalf("err %v, want one naming AzureAd:ClientId", err)
	}
	err = run(context.Background(), runOptions{sessionKeys: "too-short", logOutput: io.Discard,
		configPath: writeFile(t, "appsettings.json", `{"AzureAd":{"Instance":"https://login.microsoftonline.com/","TenantId":"organizations","ClientId":"`+entratest.WebAppClientID+`","ClientSecret":"s"}}`)})
	if err == nil || !strings.Contains(err.Error(), "SESSION_KEYS") {
		t.Fatalf("a short SESSION_KEYS: %v", err)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
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

// With no configuration the program runs in local mode: it uses the emulator of the shared state directory
// (here one the test started on a free port), says so in its first log line, and signs users in with it.
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
		done <- run(ctx, runOptions{logOutput: logs, listener: ln, configPath: writeFile(t, "empty.json", "{}"),
			local: []entratest.LocalOption{entratest.WithLocalAddr(strings.TrimPrefix(e.URL(), "https://")), entratest.WithStateDir(stateDir)}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("not listening; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "local mode") || !strings.Contains(first, e.URL()) || !strings.Contains(first, entratest.WebAppClientID) {
		t.Fatalf("first log line %q, want it to name local mode, the emulator and the client id", first)
	}
	if !strings.Contains(logs.String(), "DEVELOPMENT session keys") {
		t.Errorf("no warning about generated session keys:\n%s", logs.String())
	}
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	c := newClient(t, e)
	if p := c.through(c.do("GET", base+"/profile", nil), entratest.Alice); !strings.Contains(p.body, "Alice Smith") {
		t.Fatalf("sign-in in local mode: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Errorf("the logs hold a token:\n%s", logs.String())
	}
}

// The program builds and runs as a program, configured through appsettings.json and AzureAd__* variables
// against an Entra-shaped identity provider (the test's emulator) whose CA it trusts through SSL_CERT_FILE,
// as a single-tenant app of contoso with its session keys from SESSION_KEYS. It stops cleanly on SIGTERM.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	e := entratest.Start(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "webapp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, e.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := `{
  // the instance and the app in the file; the tenant and the secret from the environment
  "AzureAd": { "Instance": "` + e.Instance() + `", "ClientId": "` + entratest.WebAppClientID + `" },
  "MicrosoftGraph": { "BaseUrl": "` + e.GraphURL() + `" },
}`
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	var env []string
	for _, kv := range os.Environ() {
		if k := strings.ToLower(kv); !strings.HasPrefix(k, "azuread__") && !strings.HasPrefix(k, "port=") &&
			!strings.HasPrefix(k, "ssl_cert_") && !strings.HasPrefix(k, "session_keys=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(env, "PORT="+port, "SSL_CERT_FILE="+caFile, "AzureAd__TenantId="+entratest.ContosoTenantID,
		"AzureAd__ClientSecret="+entratest.WebAppSecret, "SESSION_KEYS=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
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
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("not listening; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "configured mode") || !strings.Contains(first, e.Authority(entratest.ContosoTenantID)) {
		t.Fatalf("first log line %q, want it to name the configured mode and the authority", first)
	}
	if strings.Contains(logs.String(), "DEVELOPMENT session keys") {
		t.Errorf("session keys were generated despite SESSION_KEYS:\n%s", logs.String())
	}

	base := "http://localhost:" + port
	c := newClient(t, e)
	p := c.through(c.do("GET", base+"/profile", nil), entratest.Bob)
	if p.url != base+"/profile" || !strings.Contains(p.body, "Bob Jones") {
		t.Errorf("sign-in: %d at %s; logs:\n%s", p.status, p.url, logs.String())
	}
	// carol of fabrikam cannot sign in to contoso's single-tenant app.
	carol := newClient(t, e)
	p = carol.answer(carol.do("GET", base+"/profile", nil), "username", entratest.Carol, "password", entratest.UserPassword)
	if !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, "AADSTS50020") {
		t.Errorf("carol signing in to contoso's app: %d at %s", p.status, p.url)
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
	if strings.Contains(logs.String(), "eyJ") || strings.Contains(logs.String(), entratest.WebAppSecret) {
		t.Errorf("the logs hold a token or the secret:\n%s", logs.String())
	}
}
