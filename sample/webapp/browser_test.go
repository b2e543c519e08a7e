package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/sample/internal/webapitest"
)

// A real browser, headless Chromium, signs alice in through the emulator's form, sees her name, opens her
// mail through the consent page, adds an item to her to-do list through the web API (sample/webapi, run as a
// program) after consenting to ToDoList.ReadWrite, signs out, and finds her profile asking for sign-in
// again. The sample runs
// on a free port on localhost, which the emulator accepts as the registered http://localhost:5000 (a
// loopback redirect URI matches whatever its port); the emulator on its own free port on 127.0.0.1, another
// site, so that the sign-in response is a real cross-site form_post.
func TestBrowserSignInConsentSignOut(t *testing.T) {
	chromium := findChromium(t)
	e := entratest.Start(t)
	cfg := emulatorConfig(e)
	addLocalTodoListAPIs(cfg, webapitest.Start(t, e).URL())
	router, err := newRouter(cfg, appOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	// Record how the sign-in responses reach the callback.
	var mu sync.Mutex
	var callbacks []string
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/signin-oidc" {
			_ = r.ParseForm()
			hasState := false
			for _, c := range r.Cookies() {
				hasState = hasState || strings.HasPrefix(c.Name, "ginidentity.signin.")
			}
			mu.Lock()
			callbacks = append(callbacks, fmt.Sprintf("%s resubmitted=%t state-cookie=%t", r.Method, r.PostForm.Has("ginidentity_resubmit"), hasState))
			mu.Unlock()
		}
		router.ServeHTTP(w, r)
	}))

	ctx := newBrowser(t, chromium, emulatorSPKI(t, e))
	// fail reports where the browser is and what it shows.
	fail := func(format string, args ...any) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf(format+"\nat %s:\n%s", append(args, loc, html)...)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			fail("%s: %v", what, err)
		}
	}
	read := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			fail("reading the page: %v", err)
		}
		return v
	}

	do("open the home page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("greeting")))
	if text := read(chromedp.Text(chromedp.ID("greeting"))); !strings.Contains(text, "not signed in") {
		fail("the home page before sign-in says %q", text)
	}

	do("go to sign in", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("username")))
	if loc := read(chromedp.Location()); !strings.HasPrefix(loc, e.URL()+"/organizations/oauth2/v2.0/authorize?") {
		fail("the sign-in form is at %s, want the emulator's authorize endpoint", loc)
	}
	do("sign in through the emulator's form",
		chromedp.SendKeys(chromedp.ID("username"), entratest.Alice),
		chromedp.SendKeys(chromedp.ID("password"), entratest.UserPassword),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("user-name")))
	if name := read(chromedp.Text(chromedp.ID("user-name"))); name != "Alice Smith" {
		fail("signed in as %q, want Alice Smith", name)
	}
	if loc, text := read(chromedp.Location()), read(chromedp.Text(chromedp.ID("greeting"))); loc != base+"/" || !strings.Contains(text, "Hello, Alice Smith") {
		fail("after sign-in: %q at %s", text, loc)
	}

	// Chromium sent the cross-site form_post without the SameSite=Lax state cookie, and the app's page posted
	// it again, same-site, with the cookie.
	mu.Lock()
	got := strings.Join(callbacks, "; ")
	mu.Unlock()
	if got != "POST resubmitted=false state-cookie=false; POST resubmitted=true state-cookie=true" {
		t.Fatalf("the callback received: %s", got)
	}

	do("open the profile", chromedp.Click(chromedp.ID("nav-profile")), chromedp.WaitVisible(chromedp.ID("claims")))
	if upn := read(chromedp.Text(chromedp.ID("claim-preferred_username"))); upn != entratest.Alice {
		fail("the profile's preferred_username is %q", upn)
	}

	do("open the mail: the consent page", chromedp.Click(chromedp.ID("nav-mail")), chromedp.WaitVisible(chromedp.ID("accept")))
	if perms := read(chromedp.Text(chromedp.ID("permissions"))); !strings.Contains(perms, "Mail.Read") {
		fail("the consent page asks for %q, want Mail.Read", perms)
	}
	do("consent", chromedp.Click(chromedp.ID("accept")), chromedp.WaitVisible(chromedp.ID("messages")))
	messages, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("#messages tr.message")))
	if loc := read(chromedp.Location()); err != nil || loc != base+"/mail" || len(messages) == 0 {
		fail("the mail page at %s shows %d messages (%v)", loc, len(messages), err)
	}

	do("open the to-do list", chromedp.Click(chromedp.ID("nav-todos")), chromedp.WaitVisible(chromedp.ID("todos")))
	do("open the form: the consent page", chromedp.Click(chromedp.ID("add-todo")), chromedp.WaitVisible(chromedp.ID("accept")))
	if perms := read(chromedp.Text(chromedp.ID("permissions"))); !strings.Contains(perms, "ToDoList.ReadWrite") {
		fail("the consent page asks for %q, want ToDoList.ReadWrite", perms)
	}
	do("consent", chromedp.Click(chromedp.ID("accept")), chromedp.WaitVisible(chromedp.ID("title")))
	do("add an item", chromedp.SendKeys(chromedp.ID("title"), "Buy milk"), chromedp.Click(chromedp.ID("add")),
		chromedp.WaitVisible(chromedp.CSS("#todos li.todo")))
	if loc, text := read(chromedp.Location()), read(chromedp.Text(chromedp.ID("todos"))); loc != base+"/todos" || text != "Buy milk" {
		fail("the to-do list at %s shows %q, want Buy milk", loc, text)
	}

	do("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("sign-in")))
	if loc, text := read(chromedp.Location()), read(chromedp.Text(chromedp.ID("greeting"))); loc != base+"/" || !strings.Contains(text, "not signed in") {
		fail("after sign-out: %q at %s", text, loc)
	}

	do("open the profile again", chromedp.Navigate(base+"/profile"), chromedp.WaitVisible(chromedp.ID("username")))
	loc := read(chromedp.Location())
	u, _ := url.Parse(loc)
	if !strings.HasPrefix(loc, e.URL()+"/") || u.Query().Get("redirect_uri") != base+"/signin-oidc" {
		fail("the profile after sign-out led to %s, want the emulator's sign-in form for this app", loc)
	}
}

// findChromium returns Debian's chromium, or skips the test (fails it with GINIDENTITY_REQUIRE_CHROMIUM=1).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GINIDENTITY_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium is not installed and GINIDENTITY_REQUIRE_CHROMIUM=1: apt-get install chromium")
	}
	t.Skip("chromium is not installed: apt-get install chromium (GINIDENTITY_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// emulatorSPKI is the base64 SHA-256 of the emulator's TLS public key, which Chromium then trusts.
func emulatorSPKI(t *testing.T, e *entratest.Emulator) string {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.URL(), "https://"), &tls.Config{RootCAs: e.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newBrowser starts a headless Chromium with a fresh profile for the test, trusting the emulator's key.
func newBrowser(t *testing.T, chromium, spki string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.UserDataDir(t.TempDir()),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
