package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// redisAddr is the Redis the tests share: GINIDENTITY_REDIS_ADDR or the local default.
func redisAddr() string { return cmp.Or(os.Getenv("GINIDENTITY_REDIS_ADDR"), "127.0.0.1:6379") }

// skipOrFail skips the test with msg, or fails it when GINIDENTITY_REQUIRE_REDIS=1 (CI).
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("GINIDENTITY_REQUIRE_REDIS") == "1" {
		t.Fatal(msg + " (GINIDENTITY_REQUIRE_REDIS=1)")
	}
	t.Skip(msg + "; GINIDENTITY_REQUIRE_REDIS=1 makes this a failure")
}

// requireRedis returns a client of the Redis at addr and a key prefix of the test's own, whose keys are
// deleted when the test ends; it skips the test when that Redis does not answer.
func requireRedis(t *testing.T, addr string) (*redis.Client, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		skipOrFail(t, "Redis is not reachable at "+addr+" ("+err.Error()+"): install and start redis-server, or set GINIDENTITY_REDIS_ADDR")
	}
	prefix := "ginidentity-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		for k := range redisValues(t, c, prefix) {
			c.Del(context.Background(), k)
		}
		c.Close()
	})
	return c, prefix
}

// redisValues is `redis-cli --scan --pattern 'prefix*'` with the value of each key.
func redisValues(t *testing.T, c *redis.Client, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if v, err := c.Get(ctx, iter.Val()).Bytes(); err == nil {
			out[iter.Val()] = v
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scanning %s*: %v", prefix, err)
	}
	return out
}

// scaleOutConfig configures the sample against the emulator with its token cache and sessions in the
// Redis at addr, under prefix.
func scaleOutConfig(e *entratest.Emulator, addr, prefix string, cacheKey string) *ginidentity.Config {
	cfg := emulatorConfig(e)
	cfg.TokenCache = ginidentity.TokenCacheOptions{Store: "Redis", RedisAddress: addr, KeyPrefix: prefix + "tokens:",
		EncryptionKeys: []string{cacheKey}, L1SizeMB: 4, OperationTimeout: "500ms"}
	cfg.Sessions = ginidentity.SessionsOptions{Store: "Redis", KeyPrefix: prefix + "sessions:"}
	return cfg
}

func randomKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// instance is one instance of the sample, in process, with its own stores (and L1) and log.
type instance struct {
	name string
	url  string
	logs *lockedBuffer
}

// startInstance serves the sample's router as main's run builds it from cfg, naming itself in the
// X-Instance header of every response.
func startInstance(t *testing.T, name string, e *entratest.Emulator, cfg *ginidentity.Config, sessionKeys [][]byte) *instance {
	t.Helper()
	in := &instance{name: name, logs: &lockedBuffer{}}
	logger := slog.New(slog.NewTextHandler(in.logs, nil))
	st, err := openStores(context.Background(), cfg, sessionKeys, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.close)
	router, err := newRouter(cfg, appOptions{HTTPClient: e.HTTPClient(), Logger: logger, SessionKeys: sessionKeys,
		TokenCache: st.tokenCache, SessionStore: st.sessions})
	if err != nil {
		t.Fatal(err)
	}
	in.url = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance", name)
		router.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		if !strings.Contains(in.logs.String(), "EncryptionKeys:[redacted]") {
			t.Errorf("instance %s did not log its token cache configuration:\n%s", name, in.logs.String())
		}
		secrets := append([]string{"eyJ", entratest.WebAppSecret}, cfg.TokenCache.EncryptionKeys...)
		for _, secret := range secrets {
			if logs := in.logs.String(); strings.Contains(logs, secret) {
				t.Errorf("instance %s logged a token, a secret or a key:\n%s", name, logs)
			}
		}
	})
	return in
}

// startCluster runs two instances of the sample with cfg, A and B, sharing their session keys, behind a
// round-robin proxy.
func startCluster(t *testing.T, e *entratest.Emulator, cfg *ginidentity.Config) (a, b *instance, proxy string) {
	t.Helper()
	keys, err := ginidentity.ParseSessionKeys(randomKey())
	if err != nil {
		t.Fatal(err)
	}
	a, b = startInstance(t, "A", e, cfg, keys), startInstance(t, "B", e, cfg, keys)
	return a, b, startProxy(t, a, b)
}

// pinHeader, on a request to the proxy, names the instance that must serve it.
const pinHeader = "X-Test-Instance"

// startProxy serves a round-robin reverse proxy over the instances on loopback, keeping the Host the
// browser asked for (so that redirect URIs name the proxy), and returns its URL.
func startProxy(t *testing.T, instances ...*instance) string {
	t.Helper()
	var next atomic.Uint64
	targets := map[string]*url.URL{}
	for _, in := range instances {
		targets[in.name], _ = url.Parse(in.url)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		target, ok := targets[r.In.Header.Get(pinHeader)]
		if !ok {
			target = targets[instances[(next.Add(1)-1)%uint64(len(instances))].name]
		}
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	return serve(t, proxy)
}

// pinnedClient is a browser stand-in (see client) behind the proxy that can direct its requests to one
// instance and records which instance served each of them.
type pinnedClient struct {
	*client
	mu     sync.Mutex
	pin    string
	served []string // "METHOD /path instance", in order
}

func newPinnedClient(t *testing.T, e *entratest.Emulator) *pinnedClient {
	pc := &pinnedClient{client: newClient(t, e)}
	inner := pc.c.Transport
	pc.c.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		pc.mu.Lock()
		pin := pc.pin
		pc.mu.Unlock()
		if pin != "" {
			r = r.Clone(r.Context())
			r.Header.Set(pinHeader, pin)
		}
		resp, err := inner.RoundTrip(r)
		if err == nil && resp.Header.Get("X-Instance") != "" {
			pc.mu.Lock()
			pc.served = append(pc.served, r.Method+" "+r.URL.Path+" "+resp.Header.Get("X-Instance"))
			pc.mu.Unlock()
		}
		return resp, err
	})
	return pc
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// on directs the next requests to the instance (or, with "", round robin).
func (pc *pinnedClient) on(name string) *pinnedClient {
	pc.mu.Lock()
	pc.pin = name
	pc.mu.Unlock()
	return pc
}

// servedBy returns the instances that served requests to path since mark, in order.
func (pc *pinnedClient) servedBy(mark int, method, path string) []string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	var out []string
	for _, s := range pc.served[mark:] {
		if rest, ok := strings.CutPrefix(s, method+" "+path+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func (pc *pinnedClient) mark() int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return len(pc.served)
}

// sessionCookie returns the browser's session cookie for u.
func (pc *pinnedClient) sessionCookie(u string) *http.Cookie {
	pu, _ := url.Parse(u)
	for _, c := range pc.c.Jar.Cookies(pu) {
		if c.Name == ginidentity.DefaultSessionName {
			return c
		}
	}
	return nil
}

// The identities of alice and bob in the emulator's default directory.
const (
	aliceOID     = "a11ce000-0000-4000-8000-00000000a11c"
	aliceHome    = aliceOID + "." + entratest.ContosoTenantID
	aliceMailbox = "Hello from Bob Jones"   // a message in alice's mailbox
	bobMailbox   = "Hello from Alice Smith" // a message in bob's
)

// jwtLike matches what a JWT (or any base64url JSON object) looks like.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}`)

// Two instances of the web app behind a round-robin proxy share Redis: alice signs in through one and uses
// pages served by the other, her tokens are taken from the shared cache, Redis only ever holds ciphertext,
// and signing out on either instance removes her session and her tokens everywhere.
func TestMultiInstance(t *testing.T) {
	raw, prefix := requireRedis(t, redisAddr())
	e := entratest.Start(t)
	cfg := scaleOutConfig(e, redisAddr(), prefix, randomKey())
	_, _, proxy := startCluster(t, e, cfg)
	alice := newPinnedClient(t, e)

	// alice signs in through A.
	mark := alice.mark()
	p := alice.on("A").through(alice.do("GET", proxy+"/profile", nil), entratest.Alice)
	if p.url != proxy+"/profile" || !strings.Contains(p.body, `<span id="user-name">Alice Smith</span>`) {
		t.Fatalf("sign-in through A: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if got := alice.servedBy(mark, "POST", "/signin-oidc"); len(got) != 1 || got[0] != "A" {
		t.Fatalf("the sign-in callback was served by %v, want A", got)
	}

	// B knows her: her profile, and her mail (consent is asked once, through B).
	mark = alice.mark()
	p = alice.on("B").do("GET", proxy+"/profile", nil)
	if p.url != proxy+"/profile" || !strings.Contains(p.body, `<td id="claim-oid">`+aliceOID+`</td>`) {
		t.Fatalf("/profile on B: %d at %s:\n%s", p.status, p.url, p.body)
	}
	p = alice.through(alice.do("GET", proxy+"/mail", nil), entratest.Alice)
	if p.url != proxy+"/mail" || !strings.Contains(p.body, aliceMailbox) {
		t.Fatalf("/mail on B: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if got := alice.servedBy(mark, "GET", "/profile"); len(got) != 1 || got[0] != "B" {
		t.Fatalf("/profile was served by %v, want B", got)
	}

	// A serves her mail with the token B put in the shared cache: the token endpoint is down meanwhile.
	e.FailEndpoint(entratest.EndpointToken, http.StatusServiceUnavailable, 0)
	mark = alice.mark()
	p = alice.on("A").do("GET", proxy+"/mail", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, aliceMailbox) || !slicesEqual(alice.servedBy(mark, "GET", "/mail"), "A") {
		t.Fatalf("/mail on A from the shared cache: %d at %s (served by %v):\n%s", p.status, p.url, alice.servedBy(mark, "GET", "/mail"), p.body)
	}
	e.ClearFaults()

	// Round robin: every instance serves her in turn.
	mark = alice.mark()
	for range 4 {
		if p := alice.on("").do("GET", proxy+"/profile", nil); !strings.Contains(p.body, "Alice Smith") {
			t.Fatalf("/profile, round robin: %d at %s", p.status, p.url)
		}
	}
	if got := strings.Join(alice.servedBy(mark, "GET", "/profile"), ""); got != "ABAB" && got != "BABA" {
		t.Fatalf("round robin served /profile from %s", got)
	}

	// `redis-cli --scan`: her session and her partition, ciphertext only.
	values := redisValues(t, raw, prefix)
	partition := prefix + "tokens:" + aliceHome
	if _, ok := values[partition]; !ok {
		t.Fatalf("no partition %s in Redis: %v", partition, keysOf(values))
	}
	if n := countPrefix(values, prefix+"sessions:"); n != 1 {
		t.Fatalf("%d sessions in Redis, want alice's: %v", n, keysOf(values))
	}
	for k, v := range values {
		for _, clear := range []string{"Alice", "Smith", entratest.Alice, aliceOID, "refresh_token", "secret", "AccessToken"} {
			if bytes.Contains(v, []byte(clear)) {
				t.Errorf("%s holds %q in clear", k, clear)
			}
		}
		if m := jwtLike.Find(v); m != nil {
			t.Errorf("%s holds JWT-like text %q", k, m)
		}
	}

	// She signs out through B: her session and her tokens are gone from Redis, and A no longer knows her,
	// even with the cookie from before.
	cookie := alice.sessionCookie(proxy)
	p = alice.on("B").do("GET", proxy+"/auth/signout", nil)
	if p.url != proxy+"/" || !strings.Contains(p.body, "not signed in") {
		t.Fatalf("sign-out through B: %d at %s", p.status, p.url)
	}
	values = redisValues(t, raw, prefix)
	for k := range values {
		if strings.Contains(k, aliceHome) || strings.HasPrefix(k, prefix+"sessions:") {
			t.Errorf("%s is still in Redis after sign-out", k)
		}
	}
	replay := newPinnedClient(t, e)
	pu, _ := url.Parse(proxy)
	replay.c.Jar.SetCookies(pu, []*http.Cookie{cookie})
	if p := replay.on("A").do("GET", proxy+"/profile", nil); !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, `<form id="signin"`) {
		t.Fatalf("/profile on A with alice's cookie from before sign-out: %d at %s", p.status, p.url)
	}
}

// A corrupted or foreign blob under alice's partition is a miss, logged: alice never gets bob's tokens and
// is sent to sign in again, nothing panics, and she gets her own mail back.
func TestMultiInstanceForeignPartition(t *testing.T) {
	raw, prefix := requireRedis(t, redisAddr())
	e := entratest.Start(t)
	cfg := scaleOutConfig(e, redisAddr(), prefix, randomKey())
	a, b, proxy := startCluster(t, e, cfg)

	alice, bob := newPinnedClient(t, e), newPinnedClient(t, e)
	for _, u := range []struct {
		c       *pinnedClient
		name    string
		mailbox string
	}{{alice.on("A"), entratest.Alice, aliceMailbox}, {bob.on("B"), entratest.Bob, bobMailbox}} {
		if p := u.c.through(u.c.do("GET", proxy+"/mail", nil), u.name); !strings.Contains(p.body, u.mailbox) {
			t.Fatalf("%s's mail: %d at %s:\n%s", u.name, p.status, p.url, p.body)
		}
	}
	ctx := context.Background()
	alicePartition := prefix + "tokens:" + aliceHome
	var bobPartition string
	for k := range redisValues(t, raw, prefix+"tokens:") {
		if k != alicePartition && !strings.Contains(k, "AppTokenCache") {
			bobPartition = k
		}
	}
	bobBlob, err := raw.Get(ctx, bobPartition).Bytes()
	if err != nil {
		t.Fatalf("bob's partition %q: %v", bobPartition, err)
	}
	for name, blob := range map[string][]byte{"bob's partition": bobBlob, "garbage": []byte("\x01garbage that is no entry"), "nothing": {}} {
		for _, in := range []*instance{a, b} {
			t.Run(name+" on "+in.name, func(t *testing.T) {
				if err := raw.Set(ctx, alicePartition, blob, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
				p := alice.on(in.name).do("GET", proxy+"/mail", nil)
				if strings.Contains(p.body, bobMailbox) {
					t.Fatalf("alice was shown bob's mail")
				}
				if !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, `<form id="response"`) {
					t.Fatalf("alice was not sent to sign in again: %d at %s:\n%s", p.status, p.url, p.body)
				}
				if p = alice.through(p, entratest.Alice); p.url != proxy+"/mail" || !strings.Contains(p.body, aliceMailbox) {
					t.Fatalf("alice's mail after signing in again: %d at %s", p.status, p.url)
				}
			})
		}
	}
	logs := a.logs.String() + b.logs.String()
	for _, want := range []string{"cannot decrypt the entry", "not in this store's format"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the logs:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "panic") {
		t.Errorf("a panic was logged:\n%s", logs)
	}
	// bob's own tokens were never touched.
	if p := bob.on("A").do("GET", proxy+"/mail", nil); p.url != proxy+"/mail" || !strings.Contains(p.body, bobMailbox) {
		t.Fatalf("bob's mail: %d at %s", p.status, p.url)
	}
}

func slicesEqual(got []string, want ...string) bool { return fmt.Sprint(got) == fmt.Sprint(want) }

func countPrefix(m map[string][]byte, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
