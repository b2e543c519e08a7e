package rediscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

var ctx = context.Background()

func later() time.Time { return time.Now().Add(time.Hour) }

func TestNewReportsEveryProblem(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		want []string
	}{
		{"empty", Options{}, []string{"Options.Addr is empty", "Options.EncryptionKeys is empty", "openssl rand -base64 32"}},
		{"addr and client", Options{Addr: "x:1", Client: redis.NewClient(&redis.Options{}), InsecurePlaintext: true}, []string{"both Options.Addr and Options.Client"}},
		{"negative", Options{Addr: "x:1", Timeout: -time.Second, L1MaxBytes: -1, InsecurePlaintext: true}, []string{"Options.Timeout is -1s", "Options.L1MaxBytes is -1"}},
		{"stale without L1", Options{Addr: "x:1", WhenRedisFails: ServeStaleFromL1, InsecurePlaintext: true}, []string{"set Options.L1MaxBytes"}},
		{"unknown mode", Options{Addr: "x:1", WhenRedisFails: 7, InsecurePlaintext: true}, []string{"WhenRedisFails is 7"}},
		{"keys and plaintext", Options{Addr: "x:1", EncryptionKeys: randomKeys(t), InsecurePlaintext: true}, []string{"remove InsecurePlaintext"}},
		{"short key", Options{Addr: "x:1", EncryptionKeys: tokencache.EncryptionKeys{Current: []byte("short")}}, []string{"EncryptionKeys.Current is 5 bytes"}},
		{"bad URL", Options{Addr: "redis://user:hunter2@host:notaport/0", InsecurePlaintext: true}, []string{"not a valid Redis URL", "redis://xxxxx@host:notaport/0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(ctx, c.opts)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the error shows the Redis password")
			}
		})
	}
}

func TestNewNamesUnreachableAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = New(ctx, Options{Addr: addr, InsecurePlaintext: true, Timeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis at "+addr) {
		t.Fatalf("New against a closed port: %v, want an error naming %s", err, addr)
	}
}

func TestNewAcceptsURL(t *testing.T) {
	c := requireRedis(t)
	s := newStore(t, Options{Addr: "redis://" + redisAddr() + "/0", Prefix: testPrefix(t, c), InsecurePlaintext: true})
	if err := s.Set(ctx, "k", []byte("v"), later()); err != nil {
		t.Fatal(err)
	}
}

// TestWhatRedisHolds checks the Redis side: the key name, ciphertext only, and the Redis expiry.
func TestWhatRedisHolds(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	s := newStore(t, Options{Prefix: prefix, EncryptionKeys: randomKeys(t)})
	secret := []byte(`{"RefreshToken":{"secret":"0.AXYA-refresh-token"}}`)
	ttl := 10 * time.Minute
	if err := s.Set(ctx, "oid.tid", secret, time.Now().Add(ttl)); err != nil {
		t.Fatal(err)
	}
	raw, err := c.Get(ctx, prefix+"oid.tid").Bytes()
	if err != nil {
		t.Fatalf("no Redis key %soid.tid: %v", prefix, err)
	}
	if bytes.Contains(raw, []byte("secret")) || bytes.Contains(raw, []byte("AXYA")) {
		t.Fatalf("Redis holds the clear text: %q", raw)
	}
	pttl := c.PTTL(ctx, prefix+"oid.tid").Val()
	if pttl <= ttl-time.Minute || pttl > ttl {
		t.Fatalf("Redis expiry %s, want about %s", pttl, ttl)
	}
	if err := s.Set(ctx, "oid.tid", secret, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, prefix+"oid.tid").Val(); n != 0 {
		t.Fatal("a write with a past expiresAt left the key in Redis")
	}
}

// TestExpiresAtWinsOverRedisTTL: an entry whose expiresAt has passed is a miss even if Redis still holds it.
func TestExpiresAtWinsOverRedisTTL(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	for _, l1 := range []int64{0, 1 << 20} {
		s := newStore(t, Options{Prefix: prefix, InsecurePlaintext: true, L1MaxBytes: l1})
		c.Set(ctx, prefix+"k", seal([]byte("v"), time.Now().Add(-time.Millisecond)), time.Hour)
		if v, err := s.Get(ctx, "k"); !errors.Is(err, tokencache.ErrNotFound) {
			t.Fatalf("L1 %d: Get of an entry past its expiresAt = %q, %v; want a miss", l1, v, err)
		}
	}
}

// TestCorruptEntriesAreLoggedMisses writes what another program or an attacker could put under a user's
// key: each is a logged miss, never a panic and never someone else's tokens.
func TestCorruptEntriesAreLoggedMisses(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	var log logBuffer
	keys := randomKeys(t)
	s := newStore(t, Options{Prefix: prefix, EncryptionKeys: keys, L1MaxBytes: 1 << 20, Logger: log.logger()})
	if err := s.Set(ctx, "alice", []byte("alice's tokens"), later()); err != nil {
		t.Fatal(err)
	}
	alices, _ := c.Get(ctx, prefix+"alice").Bytes()
	plain := newStore(t, Options{Prefix: prefix + "plain:", InsecurePlaintext: true})
	_ = plain.Set(ctx, "x", []byte("clear"), later())
	plainEnv, _ := c.Get(ctx, prefix+"plain:x").Bytes()

	for _, tc := range []struct {
		name  string
		write func(key string)
		log   string
	}{
		{"alice's entry under bob's key", func(k string) { c.Set(ctx, k, alices, time.Hour) }, "stored under another key"},
		{"garbage", func(k string) { c.Set(ctx, k, "not a token cache", time.Hour) }, "not in this store's format"},
		{"empty string", func(k string) { c.Set(ctx, k, "", time.Hour) }, "not in this store's format"},
		{"truncated envelope", func(k string) { c.Set(ctx, k, alices[:envelopeHeader-1], time.Hour) }, "not in this store's format"},
		{"envelope around clear text", func(k string) { c.Set(ctx, k, plainEnv, time.Hour) }, "too short for an encrypted entry"},
		{"a hash", func(k string) { c.HSet(ctx, k, "f", "v") }, "another type of value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// bob first has an entry of his own, in this instance's L1 too.
			if err := s.Set(ctx, "bob", []byte("bob's tokens"), later()); err != nil {
				t.Fatal(err)
			}
			c.Del(ctx, prefix+"bob")
			tc.write(prefix + "bob")
			got, err := s.Get(ctx, "bob")
			if !errors.Is(err, tokencache.ErrNotFound) || got != nil {
				t.Fatalf("Get = %q, %v; want a miss", got, err)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Fatalf("the log does not say %q:\n%s", tc.log, log.String())
			}
			if err := s.Set(ctx, "bob", []byte("bob's new tokens"), later()); err != nil {
				t.Fatalf("a write over the corrupt entry: %v", err)
			}
			if got, err := s.Get(ctx, "bob"); err != nil || string(got) != "bob's new tokens" {
				t.Fatalf("Get after the write = %q, %v", got, err)
			}
		})
	}
}

// commandCounter counts the Redis commands a client sends.
type commandCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.counts[cmd.Name()]++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *commandCounter) take() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.counts
	h.counts = map[string]int{}
	return c
}

// TestL1HitSendsOnlyTheStamp: an L1 hit costs one GETRANGE, not a GET of the entry.
func TestL1HitSendsOnlyTheStamp(t *testing.T) {
	c := requireRedis(t)
	counter := &commandCounter{counts: map[string]int{}}
	client := redis.NewClient(&redis.Options{Addr: redisAddr(), ContextTimeoutEnabled: true})
	client.AddHook(counter)
	t.Cleanup(func() { client.Close() })
	s := newStore(t, Options{Client: client, Prefix: testPrefix(t, c), EncryptionKeys: randomKeys(t), L1MaxBytes: 1 << 20})
	if err := s.Set(ctx, "k", make([]byte, 5000), later()); err != nil {
		t.Fatal(err)
	}
	counter.take()
	for range 3 {
		if _, err := s.Get(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := counter.take(); got["getrange"] != 3 || got["get"] != 0 {
		t.Fatalf("three L1 hits sent %v, want 3 GETRANGE and no GET", got)
	}
}

// TestTwoInstancesNeverServeStaleL1 runs two stores with L1 over one Redis, as two instances of an app: a
// write or delete through one is seen by the next read through the other.
func TestTwoInstancesNeverServeStaleL1(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	keys := randomKeys(t)
	a := newStore(t, Options{Prefix: prefix, EncryptionKeys: keys, L1MaxBytes: 1 << 20})
	b := newStore(t, Options{Prefix: prefix, EncryptionKeys: keys, L1MaxBytes: 1 << 20})

	for i := range 100 {
		writer, reader := a, b
		if i%2 == 1 {
			writer, reader = b, a
		}
		want := fmt.Appendf(nil, "tokens, version %d", i)
		if err := writer.Set(ctx, "alice", want, later()); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Store{reader, reader, writer} { // the second read is an L1 hit
			if got, err := s.Get(ctx, "alice"); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d: Get = %q, %v; want %q", i, got, err, want)
			}
		}
		if i%10 == 9 { // sign-out on one instance
			if err := writer.Delete(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if got, err := reader.Get(ctx, "alice"); !errors.Is(err, tokencache.ErrNotFound) {
				t.Fatalf("round %d: the other instance served %q, %v after a delete", i, got, err)
			}
		}
	}
}

// TestTwoInstancesConcurrentReadsAreFresh: while one instance writes increasing versions, every read on the
// other returns at least the version whose write had completed when the read began.
func TestTwoInstancesConcurrentReadsAreFresh(t *testing.T) {
	c := requireRedis(t)
	prefix := testPrefix(t, c)
	keys := randomKeys(t)
	a := newStore(t, Options{Prefix: prefix, EncryptionKeys: keys, L1MaxBytes: 1 << 20})
	b := newStore(t, Options{Prefix: prefix, EncryptionKeys: keys, L1MaxBytes: 1 << 20})
	var written atomic.Int64
	if err := a.Set(ctx, "k", []byte("0"), later()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := int64(1); v <= 300; v++ {
			if err := a.Set(ctx, "k", fmt.Append(nil, v), later()); err != nil {
				t.Error(err)
				return
			}
			written.Store(v)
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				floor := written.Load()
				got, err := b.Get(ctx, "k")
				var v int64
				if err == nil {
					_, err = fmt.Sscan(string(got), &v)
				}
				if err != nil || v < floor {
					t.Errorf("read %q, %v after version %d was written", got, err, floor)
					return
				}
			}
		})
	}
	wg.Wait()
}
