package ginidentity

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

func testSessionKeys() [][]byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return [][]byte{k}
}

// redisSessionsConfig keeps sessions in the test Redis under prefix.
func redisSessionsConfig(prefix string) *Config {
	return &Config{
		AzureAd:  AzureAdOptions{ClientID: entratest.WebAppClientID},
		Sessions: SessionsOptions{Store: "Redis", RedisAddress: testRedisAddr(), KeyPrefix: prefix, OperationTimeout: "1s"},
	}
}

// newRedisSessionApp is a test app keeping its sessions in the test Redis under prefix, with keys; the
// store logs to storeLogs.
func newRedisSessionApp(t *testing.T, e *entratest.Emulator, prefix string, keys [][]byte, storeLogs *logBuffer) *testApp {
	t.Helper()
	store, closer, err := NewSessionStore(context.Background(), redisSessionsConfig(prefix), keys, slog.New(slog.NewTextHandler(storeLogs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	return newTestApp(t, testAppOptions{emulator: e, configure: func(o *WebAppOptions) {
		o.SessionStore, o.SessionKeys = store, keys
		o.SessionLifetime = time.Hour
	}})
}

func scanKeys(t *testing.T, c *redis.Client, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, k := range keys {
		v, err := c.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func TestNewSessionStoreCookie(t *testing.T) {
	store, closer, err := NewSessionStore(context.Background(), &Config{}, nil, nil)
	if err != nil || store != nil || closer == nil {
		t.Fatalf("the cookie default: %v, %v, %v; want a nil store (NewWebApp's cookie store)", store, closer, err)
	}
}

// Every problem at once before connecting; a Redis that does not answer is an error naming its address.
func TestNewSessionStoreErrors(t *testing.T) {
	ctx := context.Background()
	cfg := &Config{Sessions: SessionsOptions{Store: "Redis", OperationTimeout: "300ms"}}
	_, _, err := NewSessionStore(ctx, cfg, [][]byte{[]byte("short")}, nil)
	if err == nil || !strings.Contains(err.Error(), "Sessions:RedisAddress is required") || !strings.Contains(err.Error(), "session key 0 is 5 bytes long") {
		t.Fatalf("no address and a short key: %v", err)
	}
	if _, _, err := NewSessionStore(ctx, &Config{Sessions: SessionsOptions{Store: "Redis", RedisAddress: "localhost:6379"}}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "no session key") {
		t.Fatalf("no keys: %v", err)
	}
	if _, _, err := NewSessionStore(ctx, nil, nil, nil); err == nil {
		t.Fatal("a nil Config was accepted")
	}

	addr := closedAddr(t)
	cfg = &Config{TokenCache: TokenCacheOptions{RedisAddress: "redis://:pa55word@" + addr, EncryptionKeys: []string{testCacheKey}, OperationTimeout: "300ms"},
		Sessions: SessionsOptions{Store: "Redis"}}
	start := time.Now()
	_, _, err = NewSessionStore(ctx, cfg, testSessionKeys(), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis at redis://xxxxx@"+addr+" within 300ms") || !strings.Contains(err.Error(), "Sessions:RedisAddress") {
		t.Fatalf("unreachable Redis (the token cache's address): %v", err)
	}
	if strings.Contains(err.Error(), "pa55word") {
		t.Errorf("the error shows the password: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// Sessions in Redis: the same cookie rules as the cookie store, a cookie holding only a sealed session id,
// records sealed and bound to their id, seen by every instance, ended everywhere at sign-out.
func TestRedisSessions(t *testing.T) {
	raw, prefix := requireTestRedis(t)
	e := entratest.Start(t)
	keys := testSessionKeys()
	var storeLogs logBuffer
	ta := newRedisSessionApp(t, e, prefix, keys, &storeLogs)
	other := newRedisSessionApp(t, e, prefix, keys, &storeLogs) // a second instance of the app

	b := newTestBrowser(t, e)
	start := b.get(ta.base + "/profile")
	resp := b.atIdentityProvider(start, entratest.Alice, "")
	p := b.crossSitePost(resp.action, resp.values)
	f := p.form("resubmit")
	p = b.post(f.action, f.values)
	if p.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", p.status, p.body)
	}
	line := p.rawSetCookie(DefaultSessionName)
	checkHTTPSessionCookie(t, line)
	if p = b.follow(p); !strings.Contains(p.body, `"name":"Alice Smith"`) {
		t.Fatalf("profile after sign-in: %d %s", p.status, p.body)
	}

	records := scanKeys(t, raw, prefix)
	if len(records) != 1 {
		t.Fatalf("Redis holds %d sessions under the prefix, want 1: %v", len(records), records)
	}
	cookie := b.cookie(ta.base, DefaultSessionName)
	var aliceKey string
	for k, v := range records {
		aliceKey = k
		for _, clear := range []string{"Alice", entratest.Alice, "a11ce000", entratest.ContosoTenantID, "preferred_username"} {
			if bytes.Contains(v, []byte(clear)) {
				t.Errorf("the session record shows %q in clear: %s", clear, v)
			}
		}
		if id := strings.TrimPrefix(k, prefix); strings.Contains(cookie.Value, id) {
			t.Errorf("the cookie shows the session id in clear")
		}
		if ttl := raw.TTL(context.Background(), k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("session TTL %v, want the session lifetime", ttl)
		}
	}

	// The other instance knows alice from the same cookie (cookies name a host, not a port).
	if p := b.get(other.base + "/"); p.body != "hello Alice Smith" {
		t.Fatalf("the other instance: %s", p.body)
	}

	// A record moved under alice's session id does not open there: bob's, or garbage. She is signed out.
	bob := newTestBrowser(t, e)
	bob.signIn(bob.get(other.base+"/profile"), entratest.Bob, "")
	var bobRecord []byte
	for k, v := range scanKeys(t, raw, prefix) {
		if k != aliceKey {
			bobRecord = v
		}
	}
	for name, forged := range map[string][]byte{"bob's record": bobRecord, "garbage": []byte("not a sealed session")} {
		if err := raw.Set(context.Background(), aliceKey, forged, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if p := b.get(ta.base + "/"); p.body != "anonymous" {
			t.Errorf("alice's session replaced by %s: %s", name, p.body)
		}
	}
	if !strings.Contains(storeLogs.String(), "does not open") {
		t.Errorf("no warning about the session record that does not open:\n%s", storeLogs.String())
	}

	// Signing in again renews the session; signing out on the other instance ends it everywhere, in Redis
	// too: the old cookie, replayed, is nobody's.
	b.signIn(b.get(ta.base+"/auth/signin?returnUrl=/"), entratest.Alice, "")
	if p := b.get(ta.base + "/"); p.body != "hello Alice Smith" {
		t.Fatalf("after signing in again: %s", p.body)
	}
	signedIn := b.cookie(ta.base, DefaultSessionName)
	if _, ok := scanKeys(t, raw, prefix)[aliceKey]; ok {
		t.Error("the session replaced at sign-in is still in Redis")
	}
	before := len(scanKeys(t, raw, prefix))
	if out := b.get(other.base + "/auth/signout"); out.status != http.StatusFound || !strings.HasPrefix(out.location().String(), e.URL()) {
		t.Fatalf("sign-out: %d %s", out.status, out.body)
	}
	if after := len(scanKeys(t, raw, prefix)); after != before-1 {
		t.Errorf("sign-out left %d sessions in Redis, want %d (bob's)", after, before-1)
	}
	replay := newTestBrowser(t, e)
	app, _ := url.Parse(ta.base)
	replay.jar.SetCookies(app, []*http.Cookie{{Name: signedIn.Name, Value: signedIn.Value, Path: "/"}})
	if p := replay.get(ta.base + "/"); p.body != "anonymous" {
		t.Fatalf("alice's cookie replayed after sign-out: %s", p.body)
	}
}

// The session is renewed at sign-in with the store of the configuration: the session from before is gone
// from Redis.
func TestRedisSessionRenewedAtSignIn(t *testing.T) {
	raw, prefix := requireTestRedis(t)
	keys := testSessionKeys()
	store, closer, err := NewSessionStore(context.Background(), redisSessionsConfig(prefix), keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	testSessionRenewed(t, store, func(c *http.Cookie) bool {
		s, err := store.New(sessionRequest(c), DefaultSessionName)
		return err == nil && s.IsNew && raw.Exists(context.Background(), prefix+s.ID).Val() == 0
	})
}
