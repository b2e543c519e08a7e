package tokencache_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// partitionSize is what an MSAL user partition takes with a couple of resources (see msal-go.md).
const partitionSize = 5 << 10

// fillMemory returns a store holding n partitions of partitionSize bytes and the bytes of heap they take.
func fillMemory(b *testing.B, n int) (*tokencache.Memory, []string, float64) {
	b.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := tokencache.NewMemory(tokencache.MemoryOptions{MaxEntries: n, MaxBytes: int64(n) * (partitionSize + 1024)})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, n)
	value := make([]byte, partitionSize)
	rand.Read(value)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-0000-0000-%012x.aaaabbbb-0000-cccc-1111-dddd2222eeee", i, i)
		if err := m.Set(context.Background(), keys[i], value, exp); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return m, keys, float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// spread visits every key in a scattered order, so that reads are not served from a warm CPU cache line.
func spread(i, n int) int { return (i * 7919) % n }

// BenchmarkMemoryGet compares hits among 100,000 users with a hit with 1 user (goal: at most 1.5x), and
// reports the heap each cached user takes (goal: at most 8 KB). same-user reads one partition over and over
// (the store's own cost); any-user reads partitions in a scattered order, whose bytes are no longer in the
// CPU cache: compare it with BenchmarkFloorCopy/live=100000, the bare cost of copying such a value.
func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	m, keys, _ := fillMemory(b, 1)
	b.Run("entries=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Get(ctx, keys[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	m, keys, perEntry := fillMemory(b, 100_000)
	for _, pattern := range []string{"same-user", "any-user"} {
		b.Run("entries=100000/"+pattern, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := keys[len(keys)/2]
				if pattern == "any-user" {
					k = keys[spread(i, len(keys))]
				}
				if _, err := m.Get(ctx, k); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perEntry, "heap-bytes/entry")
		})
	}
	runtime.KeepAlive(m)
}

// BenchmarkMemorySet compares overwriting a user's partition among 100,000 users with doing so with 1 user,
// and writing a new user into a full store (which evicts one).
func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	value := make([]byte, partitionSize)
	exp := time.Now().Add(time.Hour)
	m, keys, _ := fillMemory(b, 1)
	b.Run("entries=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := m.Set(ctx, keys[0], value, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	m, keys, _ = fillMemory(b, 100_000)
	b.Run("entries=100000/any-user", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := m.Set(ctx, keys[spread(i, len(keys))], value, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("entries=100000/new-user-evicts", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := m.Set(ctx, fmt.Sprint("new-", i), value, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	runtime.KeepAlive(m)
}

var sink []byte

// BenchmarkFloorCopy is the floor under the memory store: copying a 5 KB value, picked as the store's
// any-user benchmarks pick them, out of n live values into a new slice.
func BenchmarkFloorCopy(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		values := make([][]byte, n)
		for i := range values {
			values[i] = make([]byte, partitionSize)
			rand.Read(values[i])
		}
		b.Run(fmt.Sprintf("live=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				v := values[spread(i, n)]
				sink = append(make([]byte, 0, len(v)), v...)
			}
		})
		runtime.KeepAlive(values)
	}
}

// BenchmarkEncryptedMemoryGet is a hit through NewEncrypted over the memory store: the cost of AES-256-GCM on
// a 5 KB partition, to compare with BenchmarkMemoryGet/entries=1.
func BenchmarkEncryptedMemoryGet(b *testing.B) {
	ctx := context.Background()
	m, _, _ := fillMemory(b, 1)
	key := make([]byte, tokencache.KeySize)
	rand.Read(key)
	e, err := tokencache.NewEncrypted(m, tokencache.EncryptionKeys{Current: key})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Set(ctx, "user", make([]byte, partitionSize), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Get(ctx, "user"); err != nil {
			b.Fatal(err)
		}
	}
}
