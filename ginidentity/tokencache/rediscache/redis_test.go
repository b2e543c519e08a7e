package rediscache

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// redisAddr is the Redis the tests use: GINIDENTITY_REDIS_ADDR or the local default.
func redisAddr() string { return cmp.Or(os.Getenv("GINIDENTITY_REDIS_ADDR"), "127.0.0.1:6379") }

// requireRedis returns a plain client to the test Redis, skipping the test when none answers (failing it
// when GINIDENTITY_REQUIRE_REDIS=1, as in CI).
func requireRedis(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr(), DialTimeout: time.Second, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		msg := "Redis is not reachable at " + redisAddr() + " (" + err.Error() + "): install and start redis-server, or set GINIDENTITY_REDIS_ADDR"
		if os.Getenv("GINIDENTITY_REQUIRE_REDIS") == "1" {
			t.Fatal(msg + " (GINIDENTITY_REQUIRE_REDIS=1)")
		}
		t.Skip(msg + "; GINIDENTITY_REQUIRE_REDIS=1 makes this a failure")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of the test's own and deletes every key under it when the test ends.
func testPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	prefix := "ginidentity-test:" + rand.Text() + ":"
	t.Cleanup(func() { deletePrefix(t, c, prefix) })
	return prefix
}

func deletePrefix(t testing.TB, c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			c.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		c.Unlink(ctx, keys...)
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleaning up %s*: %v", prefix, err)
	}
}

func randomKeys(t testing.TB) tokencache.EncryptionKeys {
	k := make([]byte, tokencache.KeySize)
	rand.Read(k)
	return tokencache.EncryptionKeys{Current: k}
}

// newStore opens a store on the test Redis, closed when the test ends. opts.Addr defaults to the test Redis.
func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Addr == "" && opts.Client == nil {
		opts.Addr = redisAddr()
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects log lines, safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
