package ginidentity

import (
	"context"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/redis"
	"github.com/gin-identity/kit/ginidentity/entratest"
	gsessions "github.com/gorilla/sessions"
	goredis "github.com/redis/go-redis/v9"
)

// serverSessionStore is a gin-contrib/sessions store keeping sessions on the server, the cookie holding only
// the session id, as the Redis, memcached and database stores do.
type serverSessionStore struct {
	mu       sync.Mutex
	sessions map[string]map[any]any
	options  sessions.Options
}

func newServerSessionStore() *serverSessionStore {
	return &serverSessionStore{sessions: map[string]map[any]any{}}
}

func (s *serverSessionStore) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.GetRegistry(r).Get(s, name)
}

func (s *serverSessionStore) New(r *http.Request, name string) (*gsessions.Session, error) {
	sess := gsessions.NewSession(s, name)
	sess.Options = s.options.ToGorillaOptions()
	sess.IsNew = true
	if c, err := r.Cookie(name); err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if v, ok := s.sessions[c.Value]; ok {
			sess.ID, sess.Values, sess.IsNew = c.Value, maps.Clone(v), false
		}
	}
	return sess, nil
}

func (s *serverSessionStore) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.Options.MaxAge < 0 {
		delete(s.sessions, sess.ID)
		http.SetCookie(w, gsessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		sess.ID = randomString(16)
	}
	s.sessions[sess.ID] = maps.Clone(sess.Values)
	http.SetCookie(w, gsessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

func (s *serverSessionStore) Options(o sessions.Options) { s.options = o }

func (s *serverSessionStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

// The session is renewed at sign-in: a session id known before (planted by an attacker who signed in as
// himself, or an anonymous one) never becomes the signed-in user's.
func TestSessionRenewedAtSignIn(t *testing.T) {
	t.Run("server store", func(t *testing.T) {
		store := newServerSessionStore()
		testSessionRenewed(t, store, func(c *http.Cookie) bool { return !store.has(c.Value) })
	})
	t.Run("cookie store", func(t *testing.T) {
		testSessionRenewed(t, nil, nil) // its cookies are the sessions: nothing on a server to delete
	})
	t.Run("redis store", func(t *testing.T) {
		addr := os.Getenv("GINIDENTITY_REDIS_ADDR")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
			if os.Getenv("GINIDENTITY_REQUIRE_REDIS") == "1" {
				t.Fatalf("Redis at %s: %v", addr, err)
			}
			t.Skipf("no Redis at %s (%v): start one, or set GINIDENTITY_REDIS_ADDR", addr, err)
		} else {
			c.Close()
		}
		store, err := redis.NewStore(4, "tcp", addr, "", "", []byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		prefix := "ginidentity-test-" + randomString(6) + ":"
		if err := redis.SetKeyPrefix(store, prefix); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteRedisKeys(t, addr, prefix) })
		testSessionRenewed(t, store, func(c *http.Cookie) bool {
			s, err := store.New(sessionRequest(c), DefaultSessionName)
			return err == nil && s.IsNew
		})
	})
}

// testSessionRenewed signs bob in, plants his session in alice's browser, and signs alice in there. gone, for a server-side store, reports
// whether the store no longer holds the session of a cookie.
func testSessionRenewed(t *testing.T, store sessions.Store, gone func(*http.Cookie) bool) {
	ta := newTestApp(t, testAppOptions{configure: func(o *WebAppOptions) { o.SessionStore = store }})
	attacker := newTestBrowser(t, ta.e)
	attacker.signIn(attacker.get(ta.base+"/profile"), entratest.Bob, "")
	planted := attacker.cookie(ta.base, DefaultSessionName)
	if planted == nil {
		t.Fatal("no session cookie after sign-in")
	}
	_, before, _ := ta.app.sessions.load(sessionRequest(planted))
	if before == nil {
		t.Fatal("the session cookie does not load")
	}

	// The attacker's session planted in alice's browser, alice signs in.
	b := newTestBrowser(t, ta.e)
	app, _ := url.Parse(ta.base)
	b.jar.SetCookies(app, []*http.Cookie{{Name: planted.Name, Value: planted.Value, Path: "/"}})
	if p := b.get(ta.base + "/"); p.body != "hello Bob Jones" {
		t.Fatalf("planted session: %s", p.body)
	}
	p := b.signIn(b.get(ta.base+"/auth/signin?returnUrl=/"), entratest.Alice, "")
	if p.body != "hello Alice Smith" {
		t.Fatalf("after sign-in: %s", p.body)
	}
	renewed := b.cookie(ta.base, DefaultSessionName)
	if renewed.Value == planted.Value {
		t.Fatal("the session cookie did not change at sign-in")
	}
	_, after, _ := ta.app.sessions.load(sessionRequest(renewed))
	if after == nil || after.ID == before.ID {
		t.Fatalf("session id before %q, after %+v: want a new one", before.ID, after)
	}
	if gone != nil {
		if !gone(planted) {
			t.Fatal("the store still holds the session from before sign-in")
		}
		if _, u, _ := ta.app.sessions.load(sessionRequest(planted)); u != nil {
			t.Fatal("the session from before sign-in still loads")
		}
	}
}

// sessionRequest is a request carrying the session cookie.
func sessionRequest(c *http.Cookie) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://localhost/", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

func TestSessionCookie(t *testing.T) {
	clock := &testClock{now: time.Now()}
	ta := newTestApp(t, testAppOptions{configure: func(o *WebAppOptions) { o.Now = clock.Now; o.SessionLifetime = time.Hour }})
	b := newTestBrowser(t, ta.e)
	start := b.get(ta.base + "/profile")
	state := start.rawSetCookie(stateCookie(t, start).Name)
	for _, want := range []string{"Path=/signin-oidc", "Max-Age=900", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(state, want) {
			t.Errorf("state cookie %q lacks %s", state, want)
		}
	}
	if strings.Contains(state, "Secure") {
		t.Errorf("state cookie %q is Secure over http: a browser would drop it", state)
	}

	resp := b.atIdentityProvider(start, entratest.Alice, "")
	p := b.crossSitePost(resp.action, resp.values)
	f := p.form("resubmit")
	p = b.post(f.action, f.values)
	if p.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", p.status, p.body)
	}
	line := p.rawSetCookie(DefaultSessionName)
	checkHTTPSessionCookie(t, line)
	// Who the user is, never a token, in a cookie well under the 4 KB browsers keep.
	if len(line) > 2600 {
		t.Errorf("session cookie is %d bytes", len(line))
	}
	if del := p.rawSetCookie(stateCookie(t, start).Name); !strings.Contains(del, "Max-Age=0") {
		t.Errorf("the state cookie was not deleted: %q", del)
	}
	_, u, _ := ta.app.sessions.load(sessionRequest(b.cookie(ta.base, DefaultSessionName)))
	if u == nil {
		t.Fatal("session does not load")
	}
	for _, name := range []string{"oid", "tid", "sub", "name", "preferred_username"} {
		if _, ok := u.Claims[name]; !ok {
			t.Errorf("the session lacks %s: %v", name, u.Claims)
		}
	}
	for _, name := range []string{"nonce", "aud", "exp", "iat", "uti", "rh"} {
		if _, ok := u.Claims[name]; ok {
			t.Errorf("the session keeps %s", name)
		}
	}

	// A tampered cookie is no session; an expired one neither.
	if b.get(ta.base+"/").body != "hello Alice Smith" {
		t.Fatal("not signed in")
	}
	sc := b.cookie(ta.base, DefaultSessionName)
	app, _ := url.Parse(ta.base)
	tampered := []byte(sc.Value)
	tampered[len(tampered)/2] ^= 1
	b.jar.SetCookies(app, []*http.Cookie{{Name: sc.Name, Value: string(tampered), Path: "/"}})
	if p := b.get(ta.base + "/"); p.body != "anonymous" {
		t.Fatalf("tampered session cookie: %s", p.body)
	}
	b.jar.SetCookies(app, []*http.Cookie{{Name: sc.Name, Value: sc.Value, Path: "/"}})
	clock.Advance(time.Hour + time.Second)
	if p := b.get(ta.base + "/"); p.body != "anonymous" {
		t.Fatalf("expired session: %s", p.body)
	}
}

// Behind a reverse proxy that terminates TLS, redirect URIs use the browser's scheme and host, and cookies
// are Secure; the same headers from anyone else are ignored.
func TestBehindReverseProxy(t *testing.T) {
	const publicHost = "app.contoso.test"
	dir := entratest.DefaultDirectory()
	for i := range dir.Apps {
		if dir.Apps[i].ClientID == entratest.WebAppClientID {
			dir.Apps[i].RedirectURIs = append(dir.Apps[i].RedirectURIs, "https://"+publicHost+"/signin-oidc")
			dir.Apps[i].PostLogoutRedirectURIs = append(dir.Apps[i].PostLogoutRedirectURIs, "https://"+publicHost+"/signout-callback-oidc")
		}
	}
	e := entratest.Start(t, entratest.WithDirectory(dir))
	ta := newTestApp(t, testAppOptions{emulator: e, configure: func(o *WebAppOptions) {
		o.TrustForwardedHeaders = true
		o.TrustedProxies = []string{"127.0.0.1/32", "::1/128"}
	}})
	b := newTestBrowser(t, e)
	// The proxy: https://app.contoso.test is served by the app over plain http, with X-Forwarded-*.
	inner := b.c.Transport
	b.c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != publicHost {
			return inner.RoundTrip(r)
		}
		r = r.Clone(r.Context())
		if r.TLS == nil && r.URL.Scheme != "https" {
			return nil, &url.Error{Op: "proxy", URL: r.URL.String(), Err: tls.RecordHeaderError{Msg: "https only"}}
		}
		r.URL.Scheme, r.URL.Host, r.Host = "http", strings.TrimPrefix(ta.base, "http://"), strings.TrimPrefix(ta.base, "http://")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", publicHost)
		return http.DefaultTransport.RoundTrip(r)
	})
	public := "https://" + publicHost

	start := b.get(public + "/profile")
	if got := start.location().Query().Get("redirect_uri"); got != public+"/signin-oidc" {
		t.Fatalf("redirect_uri = %q", got)
	}
	if line := start.rawSetCookie(stateCookie(t, start).Name); !strings.Contains(line, "; Secure") {
		t.Fatalf("state cookie over https is not Secure: %q", line)
	}
	resp := b.atIdentityProvider(start, entratest.Alice, "")
	p := b.crossSitePost(resp.action, resp.values)
	f := p.form("resubmit")
	p = b.post(f.action, f.values)
	if line := p.rawSetCookie(DefaultSessionName); !strings.Contains(line, "; Secure") || !strings.Contains(line, "HttpOnly") {
		t.Fatalf("session cookie over https: %q", line)
	}
	if p = b.follow(p); p.url.String() != public+"/profile" || !strings.Contains(p.body, "Alice Smith") {
		t.Fatalf("after sign-in: %d at %s", p.status, p.url)
	}
	out := b.get(public + "/auth/signout")
	if got := out.location().Query().Get("post_logout_redirect_uri"); got != public+"/signout-callback-oidc" {
		t.Fatalf("post_logout_redirect_uri = %q", got)
	}

	// The same headers from a peer that is not a trusted proxy are ignored.
	untrusted := newTestApp(t, testAppOptions{emulator: e, configure: func(o *WebAppOptions) {
		o.TrustForwardedHeaders = true
		o.TrustedProxies = []string{"10.0.0.0/8"}
	}})
	p = b.get(untrusted.base+"/auth/signin", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example")
	if got := p.location().Query().Get("redirect_uri"); got != untrusted.base+"/signin-oidc" {
		t.Fatalf("redirect_uri from an untrusted peer = %q", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// deleteRedisKeys removes what a test left under its prefix in the shared Redis.
func deleteRedisKeys(t *testing.T, addr, prefix string) {
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := rc.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		rc.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleaning up Redis keys under %s: %v", prefix, err)
	}
}

// checkHTTPSessionCookie checks the flags of a session cookie set over plain http: HttpOnly, SameSite=Lax,
// the whole site, the session's lifetime, and not Secure (a browser would drop it on http://localhost).
func checkHTTPSessionCookie(t *testing.T, line string) {
	t.Helper()
	for _, want := range []string{"Path=/", "Max-Age=3600", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("session cookie %q lacks %s", line, want)
		}
	}
	if strings.Contains(line, "Secure") {
		t.Errorf("session cookie %q is Secure over http", line)
	}
}
