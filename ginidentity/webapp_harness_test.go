package ginidentity

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"golang.org/x/net/html"
)

const mailReadScope = "https://graph.microsoft.com/Mail.Read"

// testApp is a web app signing users in with an emulator, served on a free loopback port and reached as
// http://localhost:PORT (a loopback redirect URI the default directory registers, whatever its port).
type testApp struct {
	t      *testing.T
	e      *entratest.Emulator
	cfg    *Config
	app    *WebApp
	srv    *httptest.Server
	router *gin.Engine
	base   string

	logs logBuffer

	mu     sync.Mutex
	errors []error // what the routes recorded with c.Error, most recent last
}

type testAppOptions struct {
	tenant    string
	emulator  *entratest.Emulator
	configure func(*WebAppOptions)
}

func newTestApp(t *testing.T, o testAppOptions) *testApp {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := o.emulator
	if e == nil {
		e = entratest.Start(t)
	}
	if o.tenant == "" {
		o.tenant = "organizations"
	}
	cfg := &Config{AzureAd: AzureAdOptions{Instance: e.Instance(), TenantID: o.tenant, ClientID: entratest.WebAppClientID,
		ClientSecret: entratest.WebAppSecret}}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ta := &testApp{t: t, e: e, cfg: cfg}
	opts := &WebAppOptions{HTTPClient: e.HTTPClient(), SessionKeys: [][]byte{key},
		Logger: slog.New(slog.NewTextHandler(&ta.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if o.configure != nil {
		o.configure(opts)
	}
	app, err := NewWebApp(cfg, opts)
	if err != nil {
		t.Fatalf("NewWebApp: %v", err)
	}
	ta.app = app
	t.Cleanup(func() {
		// Never a token in the logs: JWTs start with eyJ, and codes and secrets are not logged either.
		if logs := ta.logs.String(); strings.Contains(logs, "eyJ") || strings.Contains(logs, entratest.WebAppSecret) {
			t.Errorf("a token or secret was logged:\n%s", logs)
		}
	})

	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		ta.mu.Lock()
		defer ta.mu.Unlock()
		for _, ce := range c.Errors {
			ta.errors = append(ta.errors, ce.Err)
		}
	})
	app.RegisterRoutes(r)
	r.GET("/", app.Middleware(), func(c *gin.Context) {
		if cl, ok := ClaimsFrom(c); ok {
			c.String(http.StatusOK, "hello "+cl.Name())
			return
		}
		c.String(http.StatusOK, "anonymous")
	})
	r.GET("/profile", app.RequireSignIn(), func(c *gin.Context) {
		cl, _ := ClaimsFrom(c)
		fromCtx, _ := ClaimsFromContext(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"name": cl.Name(), "oid": cl.ObjectID(), "tid": cl.TenantID(),
			"preferred_username": cl.PreferredUsername(), "home": cl.HomeAccountID(), "raw": cl.RawToken(),
			"same": fromCtx == cl})
	})
	r.GET("/mail", app.RequireScopes(mailReadScope), func(c *gin.Context) {
		tok, err := app.TokenAcquirer().TokenForUser(c.Request.Context(), []string{mailReadScope})
		if Challenge(c, err) {
			return
		}
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		req, _ := http.NewRequestWithContext(c.Request.Context(), http.MethodGet, e.GraphURL()+"/me/messages", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := e.HTTPClient().Do(req)
		if err != nil {
			c.String(http.StatusBadGateway, err.Error())
			return
		}
		defer resp.Body.Close()
		var body struct {
			Value []struct {
				Subject string `json:"subject"`
			} `json:"value"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
			c.String(http.StatusBadGateway, "graph answered %d", resp.StatusCode)
			return
		}
		c.String(http.StatusOK, "messages: %d", len(body.Value))
	})
	r.GET("/challenge", app.Middleware(), func(c *gin.Context) {
		var opts []AcquireOption
		if c.Query("force") == "1" {
			opts = append(opts, WithForceRefresh())
		}
		_, err := app.TokenAcquirer().TokenForUser(c.Request.Context(), []string{mailReadScope}, opts...)
		if Challenge(c, err) {
			return
		}
		c.String(http.StatusOK, "token: %v", err == nil)
	})

	ta.router = r
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ta.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: r}}
	ta.srv.Start()
	t.Cleanup(ta.srv.Close)
	ta.base = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	return ta
}

// route adds a GET route behind the WebApp's Middleware.
func (ta *testApp) route(path string, h gin.HandlerFunc) {
	ta.router.GET(path, ta.app.Middleware(), h)
}

// lastError is the last error a route recorded, nil if none.
func (ta *testApp) lastError() error {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.errors) == 0 {
		return nil
	}
	return ta.errors[len(ta.errors)-1]
}

// wantError fails the test unless the last recorded error is target.
func (ta *testApp) wantError(target error) {
	ta.t.Helper()
	if err := ta.lastError(); !errors.Is(err, target) {
		ta.t.Fatalf("recorded error = %v, want %v", err, target)
	}
}

// testBrowser is a browser as far as sign-in goes: it keeps cookies (by domain, Secure only over https),
// trusts the emulator, follows no redirect by itself, and does not send SameSite=Lax or Strict cookies
// with a cross-site POST, as browsers do not (crossSitePost).
type testBrowser struct {
	t   *testing.T
	jar *cookiejar.Jar
	c   *http.Client
}

func newTestBrowser(t *testing.T, e *entratest.Emulator) *testBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := e.HTTPClient()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &testBrowser{t: t, jar: jar, c: c}
}

// page is one response, its HTML parsed when it is HTML.
type page struct {
	t      *testing.T
	url    *url.URL
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func (b *testBrowser) do(req *http.Request, c *http.Client) *page {
	b.t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &page{t: b.t, url: req.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		p.doc, _ = html.Parse(strings.NewReader(p.body))
	}
	return p
}

func (b *testBrowser) get(u string, header ...string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req, b.c)
}

// post submits a form from a page of the same site: cookies go with it.
func (b *testBrowser) post(u string, form url.Values) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req, b.c)
}

// crossSitePost submits a form from a page of another site: the browser sends no SameSite=Lax cookie
// (all the app's cookies are Lax or Strict), but keeps the cookies the answer sets.
func (b *testBrowser) crossSitePost(u string, form url.Values) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noJar := *b.c
	noJar.Jar = nil
	p := b.do(req, &noJar)
	b.jar.SetCookies(req.URL, (&http.Response{Header: p.header}).Cookies())
	return p
}

// follow follows redirects from p.
func (b *testBrowser) follow(p *page) *page {
	b.t.Helper()
	for i := 0; p.status >= 300 && p.status < 400; i++ {
		if i == 10 {
			b.t.Fatalf("too many redirects, at %s", p.url)
		}
		p = b.get(p.location().String())
	}
	return p
}

// location is the page's redirect target, resolved.
func (p *page) location() *url.URL {
	p.t.Helper()
	loc := p.header.Get("Location")
	if loc == "" {
		p.t.Fatalf("%s answered %d without Location:\n%s", p.url, p.status, p.body)
	}
	u, err := p.url.Parse(loc)
	if err != nil {
		p.t.Fatal(err)
	}
	return u
}

// htmlForm is a form of a page: where it posts and the values a browser would send.
type htmlForm struct {
	action  string
	values  url.Values
	buttons map[string][2]string // id -> name, value
}

func (p *page) hasForm(id string) bool { return p.byID(id) != nil }

func (p *page) form(id string) *htmlForm {
	p.t.Helper()
	n := p.byID(id)
	if n == nil || n.Data != "form" {
		p.t.Fatalf("%s: no form #%s (status %d):\n%s", p.url, id, p.status, p.body)
	}
	action, err := p.url.Parse(attr(n, "action"))
	if err != nil {
		p.t.Fatal(err)
	}
	f := &htmlForm{action: action.String(), values: url.Values{}, buttons: map[string][2]string{}}
	walk(n, func(c *html.Node) {
		if c.Type != html.ElementNode {
			return
		}
		switch c.Data {
		case "input":
			if name := attr(c, "name"); name != "" {
				f.values.Set(name, attr(c, "value"))
			}
		case "button":
			f.buttons[attr(c, "id")] = [2]string{attr(c, "name"), attr(c, "value")}
		}
	})
	return f
}

// fill returns the form's values with a button pressed and fields set.
func (f *htmlForm) fill(button string, fields ...string) url.Values {
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	if b, ok := f.buttons[button]; ok && b[0] != "" {
		v.Set(b[0], b[1])
	}
	return v
}

func (p *page) byID(id string) *html.Node {
	var found *html.Node
	walk(p.doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func walk(n *html.Node, fn func(*html.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// atIdentityProvider drives the emulator's pages from p (an authorize request's answer) to the response it
// posts back to the app: signing in as user if the sign-in form shows, answering the consent page with
// consent ("accept" or "cancel") if it shows. It returns the form_post form (not yet submitted).
func (b *testBrowser) atIdentityProvider(p *page, user, consent string) *htmlForm {
	b.t.Helper()
	p = b.follow(p)
	if p.hasForm("signin") {
		f := p.form("signin")
		p = b.post(f.action, f.fill("submit", "username", user, "password", entratest.UserPassword))
	}
	if p.hasForm("consent") {
		if consent == "" {
			b.t.Fatalf("the consent page showed:\n%s", p.body)
		}
		f := p.form("consent")
		p = b.post(f.action, f.fill(consent))
	}
	if !p.hasForm("response") {
		b.t.Fatalf("the identity provider did not answer the app (status %d at %s):\n%s", p.status, p.url, p.body)
	}
	return p.form("response")
}

// deliver posts the identity provider's response to the app as a browser does (cross-site, then once more
// from the app's own page when it asks), and follows the redirects that come after.
func (b *testBrowser) deliver(resp *htmlForm) *page {
	b.t.Helper()
	p := b.crossSitePost(resp.action, resp.values)
	if p.hasForm("resubmit") {
		f := p.form("resubmit")
		p = b.post(f.action, f.values)
	}
	return b.follow(p)
}

// signIn goes from a page that started a sign-in to the app's page after it, as user.
func (b *testBrowser) signIn(start *page, user, consent string) *page {
	b.t.Helper()
	return b.deliver(b.atIdentityProvider(start, user, consent))
}

// cookie returns the browser's cookie with the name for u, nil if none.
func (b *testBrowser) cookie(u, name string) *http.Cookie {
	pu, _ := url.Parse(u)
	for _, c := range b.jar.Cookies(pu) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookies returns the Set-Cookie headers of a page, parsed, by name.
func (p *page) setCookies() map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// rawSetCookie returns the Set-Cookie header line for the cookie name.
func (p *page) rawSetCookie(name string) string {
	for _, line := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line
		}
	}
	return ""
}
