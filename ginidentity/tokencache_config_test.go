package ginidentity

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/rediscache"
)

// testRedisAddr is the Redis the tests use: GINIDENTITY_REDIS_ADDR or the local default.
func testRedisAddr() string { return cmp.Or(os.Getenv("GINIDENTITY_REDIS_ADDR"), "127.0.0.1:6379") }

// requireTestRedis returns a client of the test Redis, skipping the test when none answers (failing it when
// GINIDENTITY_REQUIRE_REDIS=1, as in CI), and a key prefix of the test's own, whose keys are deleted when
// the test ends.
func requireTestRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testRedisAddr(), DialTimeout: time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		msg := "Redis is not reachable at " + testRedisAddr() + " (" + err.Error() + "): install and start redis-server, or set GINIDENTITY_REDIS_ADDR"
		if os.Getenv("GINIDENTITY_REQUIRE_REDIS") == "1" {
			t.Fatal(msg + " (GINIDENTITY_REQUIRE_REDIS=1)")
		}
		t.Skip(msg + "; GINIDENTITY_REQUIRE_REDIS=1 makes this a failure")
	}
	prefix := "ginidentity-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return c, prefix
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNewTokenCacheStoreMemory(t *testing.T) {
	store, closer, err := NewTokenCacheStore(context.Background(), &Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if _, ok := store.(*tokencache.Memory); !ok {
		t.Fatalf("store %T, want the memory store", store)
	}
}

// A configuration problem is reported before anything is opened, naming the setting; so is a nil Config.
func TestNewTokenCacheStoreConfigErrors(t *testing.T) {
	cfg := &Config{TokenCache: TokenCacheOptions{Store: "Redis", RedisAddress: closedAddr(t)}}
	_, _, err := NewTokenCacheStore(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "TokenCache:EncryptionKeys is required") || strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("Redis without keys: %v", err)
	}
	if _, _, err := NewTokenCacheStore(context.Background(), nil, nil); err == nil {
		t.Fatal("a nil Config was accepted")
	}
}

// Redis unreachable at start: a clear error naming the address and the setting, within the timeout.
func TestNewTokenCacheStoreRedisUnreachable(t *testing.T) {
	addr := closedAddr(t)
	cfg := &Config{TokenCache: TokenCacheOptions{RedisAddress: addr, EncryptionKeys: []string{testCacheKey}, OperationTimeout: "300ms"}}
	start := time.Now()
	_, _, err := NewTokenCacheStore(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "TokenCache:RedisAddress") || !strings.Contains(err.Error(), "cannot reach Redis at "+addr) {
		t.Fatalf("err %v, want one naming TokenCache:RedisAddress and %s", err, addr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// The Redis store of the configuration: under the app's prefix, encrypted, sharing entries between
// instances that have the same keys.
func TestNewTokenCacheStoreRedis(t *testing.T) {
	raw, prefix := requireTestRedis(t)
	ctx := context.Background()
	cfg := &Config{
		AzureAd:    AzureAdOptions{ClientID: testClientID},
		TokenCache: TokenCacheOptions{RedisAddress: testRedisAddr(), EncryptionKeys: []string{testCacheKey}, L1SizeMB: 1},
	}
	if got, want := cfg.tokenCacheKeyPrefix(), "ginidentity:tokencache:"+testClientID+":"; got != want {
		t.Errorf("default prefix %q, want %q", got, want)
	}
	cfg.TokenCache.KeyPrefix = prefix
	var logs bytes.Buffer
	store, closer, err := NewTokenCacheStore(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if _, ok := store.(*rediscache.Store); !ok {
		t.Fatalf("store %T, want *rediscache.Store", store)
	}
	secret := []byte(`{"RefreshToken":{"k":{"secret":"refresh-token-in-clear"}}}`)
	if err := store.Set(ctx, "oid.tid", secret, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	blob, err := raw.Get(ctx, prefix+"oid.tid").Bytes()
	if err != nil || bytes.Contains(blob, []byte("refresh-token-in-clear")) {
		t.Fatalf("in Redis: %q, %v: want ciphertext", blob, err)
	}

	// Another instance with the key as a previous one (a rotation in progress) reads it.
	other := *cfg
	other.TokenCache.EncryptionKeys = []string{testCacheKeyPrev, testCacheKey}
	store2, closer2, err := NewTokenCacheStore(ctx, &other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closer2.Close()
	if got, err := store2.Get(ctx, "oid.tid"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("the other instance reads %q, %v", got, err)
	}

	// Clear text only when asked for by its loud name, and with a warning.
	clear := &Config{TokenCache: TokenCacheOptions{RedisAddress: testRedisAddr(), KeyPrefix: prefix + "clear:", InsecureStoreTokensInClearText: true}}
	logs.Reset()
	store3, closer3, err := NewTokenCacheStore(ctx, clear, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closer3.Close()
	if !strings.Contains(logs.String(), "InsecureStoreTokensInClearText") {
		t.Errorf("no warning about clear text: %s", logs.String())
	}
	if err := store3.Set(ctx, "k", secret, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if blob, _ := raw.Get(ctx, prefix+"clear:k").Bytes(); !bytes.Contains(blob, []byte("refresh-token-in-clear")) {
		t.Errorf("clear text store holds %q", blob)
	}
}
