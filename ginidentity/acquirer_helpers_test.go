package ginidentity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// acqRedirect is the redirect URI the default directory registers for the sample web app.
const acqRedirect = "http://localhost:5000/signin-oidc"

// Scopes the default directory has consented for the web app (Graph User.Read, the web API's ToDoList.Read).
var (
	graphUserRead = []string{"https://graph.microsoft.com/User.Read"}
	graphMailRead = []string{"https://graph.microsoft.com/Mail.Read"}
	apiRead       = []string{entratest.WebAPIAppIDURI + "/ToDoList.Read"}
)

// acqCounter counts the requests an HTTP client sends, by kind.
type acqCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *acqCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := "other"
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/oauth2/v2.0/token"):
		kind = "token"
	case strings.HasSuffix(p, "/openid-configuration"), strings.HasSuffix(p, "/discovery/instance"):
		kind = "discovery"
	}
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *acqCounter) get(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}

// acqCountingClient is an HTTP client trusting the emulator that counts what it sends.
func acqCountingClient(e *entratest.Emulator) (*http.Client, *acqCounter) {
	hc := e.HTTPClient()
	c := &acqCounter{next: hc.Transport, n: map[string]int{}}
	hc.Transport = c
	return hc, c
}

// acqClock is a clock tests move by hand.
type acqClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *acqClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *acqClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// acqConfig is the configuration of one of the default directory's apps against the emulator.
func acqConfig(e *entratest.Emulator, tenant, clientID, secret string) *Config {
	return &Config{AzureAd: AzureAdOptions{Instance: e.Instance(), TenantID: tenant, ClientID: clientID, ClientSecret: secret}}
}

// acqQuietLogger discards the acquirer's warnings unless a test wants them.
func acqQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func acqNew(t testing.TB, cfg *Config, opts *AcquirerOptions) *TokenAcquirer {
	t.Helper()
	if opts == nil {
		opts = &AcquirerOptions{}
	}
	if opts.Logger == nil {
		opts.Logger = acqQuietLogger()
	}
	a, err := NewTokenAcquirer(cfg, opts)
	if err != nil {
		t.Fatalf("NewTokenAcquirer: %v", err)
	}
	return a
}

// acqWebApp is the sample web app's acquirer against the emulator (tenant contoso), with its request acqCounter.
func acqWebApp(t testing.TB, e *entratest.Emulator, opts *AcquirerOptions) (*TokenAcquirer, *acqCounter) {
	t.Helper()
	hc, c := acqCountingClient(e)
	if opts == nil {
		opts = &AcquirerOptions{}
	}
	opts.HTTPClient = hc
	return acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.WebAppClientID, entratest.WebAppSecret), opts), c
}

func acqContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pkce returns a PKCE verifier and its S256 challenge.
func acqPKCE() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	acqFlowInput   = regexp.MustCompile(`name="flow" value="([^"]+)"`)
	acqFormAction  = regexp.MustCompile(`<form id="(?:signin|consent)" method="post" action="([^"]+)"`)
	acqConsentPage = regexp.MustCompile(`<form id="consent"`)
)

// signIn signs the user in through the emulator's authorize endpoint as a browser would (the sign-in form,
// then the consent page when one appears), redeems the code with the acquirer and returns the redemption.
func acqSignIn(t testing.TB, e *entratest.Emulator, a *TokenAcquirer, user string, scopes []string) *Redemption {
	t.Helper()
	ctx := acqContext(t)
	verifier, challenge := acqPKCE()
	state := rand.Text()
	authURL, err := a.AuthorizeURL(ctx, AuthorizeRequest{RedirectURI: acqRedirect, Scopes: scopes, State: state,
		Nonce: rand.Text(), CodeChallenge: challenge, ResponseMode: "query"})
	if err != nil {
		t.Fatalf("AuthorizeURL: %v", err)
	}
	code := acqBrowse(t, e, authURL, user, state)
	red, err := a.RedeemCode(ctx, RedeemRequest{Code: code, RedirectURI: acqRedirect, Scopes: scopes, CodeVerifier: verifier})
	if err != nil {
		t.Fatalf("RedeemCode for %s: %v", user, err)
	}
	return red
}

// browse drives the emulator's pages from the authorize URL to the redirect with a code, and returns the code.
func acqBrowse(t testing.TB, e *entratest.Emulator, authURL, user, state string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := e.HTTPClient()
	b.Jar = jar
	b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, body := acqFetch(t, b, http.MethodGet, authURL, nil)
	form := url.Values{"username": {user}, "password": {entratest.UserPassword}}
	for step := 0; step < 3; step++ {
		if resp.StatusCode == http.StatusFound {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			q := loc.Query()
			if q.Get("error") != "" {
				t.Fatalf("the authorize endpoint answered %s: %s", q.Get("error"), q.Get("error_description"))
			}
			if q.Get("state") != state {
				t.Fatalf("state %q, want %q", q.Get("state"), state)
			}
			return q.Get("code")
		}
		flow, action := acqFlowInput.FindStringSubmatch(body), acqFormAction.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || flow == nil || action == nil {
			t.Fatalf("unexpected page %d: %.400s", resp.StatusCode, body)
		}
		form.Set("flow", flow[1])
		if acqConsentPage.MatchString(body) {
			form = url.Values{"flow": {flow[1]}, "consent": {"accept"}}
		}
		resp, body = acqFetch(t, b, http.MethodPost, e.URL()+strings.ReplaceAll(action[1], "&amp;", "&"), form)
	}
	t.Fatalf("no code after three pages")
	return ""
}

func acqFetch(t testing.TB, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// acqClaimsOf decodes a token's payload, for assertions only: this is not validation.
func acqClaimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
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

// acqUserContext is a request context carrying a signed-in user's claims (as the sign-in middleware puts them).
func acqUserContext(t testing.TB, e *entratest.Emulator, user string) context.Context {
	t.Helper()
	for _, u := range e.Directory().Users {
		if strings.EqualFold(u.UserPrincipalName, user) {
			return WithClaims(acqContext(t), NewClaims(map[string]any{"oid": u.ObjectID, "tid": u.TenantID,
				"preferred_username": u.UserPrincipalName, "name": u.DisplayName}, ""))
		}
	}
	t.Fatalf("no user %s", user)
	return nil
}

func acqObjectID(e *entratest.Emulator, user string) string {
	for _, u := range e.Directory().Users {
		if strings.EqualFold(u.UserPrincipalName, user) {
			return u.ObjectID
		}
	}
	return ""
}

func acqHomeAccountID(e *entratest.Emulator, user string) string {
	for _, u := range e.Directory().Users {
		if strings.EqualFold(u.UserPrincipalName, user) {
			return u.ObjectID + "." + u.TenantID
		}
	}
	return ""
}

// acqManyUsers is the default directory with n more users in contoso, user000@ to user{n-1}@.
func acqManyUsers(n int) (*entratest.Directory, []string) {
	d := entratest.DefaultDirectory()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("user%03d@%s", i, entratest.ContosoDomain)
		d.Users = append(d.Users, entratest.User{ObjectID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1),
			TenantID: entratest.ContosoTenantID, UserPrincipalName: names[i], DisplayName: fmt.Sprintf("User %d", i),
			Password: entratest.UserPassword})
	}
	return d, names
}

// acqRequest is what acqRoundTripFunc shows a hook of a request.
type acqRequest struct{ method, path, query string }

type acqHook struct {
	hook func(*acqRequest)
	next http.RoundTripper
}

func (h acqHook) RoundTrip(r *http.Request) (*http.Response, error) {
	h.hook(&acqRequest{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery})
	return h.next.RoundTrip(r)
}

// acqRoundTripFunc shows each request to hook before sending it with next.
func acqRoundTripFunc(hook func(*acqRequest), next http.RoundTripper) http.RoundTripper {
	return acqHook{hook: hook, next: next}
}
