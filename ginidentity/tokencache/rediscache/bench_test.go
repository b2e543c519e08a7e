package rediscache

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// partitionSize is what an MSAL user partition takes with a couple of resources (see msal-go.md).
const partitionSize = 5 << 10

func benchKey(i int) string {
	return fmt.Sprintf("%08x-0000-0000-0000-%012x.aaaabbbb-0000-cccc-1111-dddd2222eeee", i, i)
}

// BenchmarkRedisHit compares, in one run, a bare go-redis GET of a blob the size of a stored partition (the
// reference) with a hit through the store: one round trip, the envelope and AES-256-GCM decryption (goal: at
// most 1.5x the bare GET). It also reports the bytes Redis uses per cached user (goal: at most 8 KB).
func BenchmarkRedisHit(b *testing.B) {
	c := requireRedis(b)
	prefix := testPrefix(b, c)
	ctx := context.Background()
	value := make([]byte, partitionSize)
	rand.Read(value)
	plain := newStore(b, Options{Prefix: prefix, EncryptionKeys: randomKeys(b)})
	withL1 := newStore(b, Options{Prefix: prefix + "l1:", EncryptionKeys: randomKeys(b), L1MaxBytes: 64 << 20})
	for _, s := range []*Store{plain, withL1} {
		if err := s.Set(ctx, "user", value, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	stored := c.Get(ctx, prefix+"user").Val()
	c.Set(ctx, prefix+"bare", stored, time.Hour)
	bare := redis.NewClient(&redis.Options{Addr: redisAddr()})
	b.Cleanup(func() { bare.Close() })

	b.Run("bare-go-redis-GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(bare.Get(ctx, prefix+"bare").Val()) != len(stored) {
				b.Fatal("GET returned the wrong value")
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := plain.Get(ctx, "user"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.MemoryUsage(ctx, prefix+"user").Val()), "redis-bytes/entry")
	})
	b.Run("store+L1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := withL1.Get(ctx, "user"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRedisUsers compares a hit with 1 user in the store with hits spread over 100,000 users (goal: at
// most 1.2x). Filling Redis with 100,000 partitions of 5 KB takes about 550 MB for the run; the keys are
// deleted at the end.
func BenchmarkRedisUsers(b *testing.B) {
	c := requireRedis(b)
	prefix := testPrefix(b, c)
	ctx := context.Background()
	s := newStore(b, Options{Prefix: prefix, EncryptionKeys: randomKeys(b)})
	value := make([]byte, partitionSize)
	rand.Read(value)
	fill := func(from, to int) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := from + w; i < to; i += 16 {
					if err := s.Set(ctx, benchKey(i), value, time.Now().Add(time.Hour)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	fill(0, 1)
	b.Run("users=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(ctx, benchKey(0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	const users = 100_000
	fill(1, users)
	b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Get(ctx, benchKey((i*7919)%users)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
