package tokencache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/internal/benchpair"
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

// BenchmarkMemoryGet compares, alternating them in one loop, a hit in a store of 1 user with hits in a store
// of 100,000 users (goal: at most 1.5x), and reports the heap each cached user takes (goal: at most 8 KB).
// same-user reads one partition over and over (the store's own cost); any-user reads partitions in a
// scattered order, whose bytes are no longer in the CPU cache: BenchmarkFloorCopy shows what that alone
// costs any Go program.
func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	one, oneKeys, _ := fillMemory(b, 1)
	many, keys, perEntry := fillMemory(b, 100_000)
	ref := benchpair.Op{Name: "1-user", Run: func(int) { mustGet(b, one, oneKeys[0]) }}
	b.Run("same-user", func(b *testing.B) {
		benchpair.Run(b, ref, benchpair.Op{Name: "100k-users", Run: func(int) { mustGet(b, many, keys[len(keys)/2]) }})
		b.ReportMetric(perEntry, "heap-bytes/entry")
	})
	b.Run("any-user", func(b *testing.B) {
		benchpair.Run(b, ref, benchpair.Op{Name: "100k-users", Run: func(i int) { mustGet(b, many, keys[spread(i, len(keys))]) }})
	})
	runtime.KeepAlive(many)
	_ = ctx
}

func mustGet(b *testing.B, m *tokencache.Memory, key string) {
	if _, err := m.Get(context.Background(), key); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMemorySet compares, alternating them, overwriting the partition of 1 user with overwriting
// partitions among 100,000 users, and writing a new user into a full store of 100,000 (which evicts one).
func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	value := make([]byte, partitionSize)
	exp := time.Now().Add(time.Hour)
	one, oneKeys, _ := fillMemory(b, 1)
	many, keys, _ := fillMemory(b, 100_000)
	set := func(m *tokencache.Memory, key string) {
		if err := m.Set(ctx, key, value, exp); err != nil {
			b.Fatal(err)
		}
	}
	ref := benchpair.Op{Name: "1-user", Run: func(int) { set(one, oneKeys[0]) }}
	b.Run("any-user", func(b *testing.B) {
		benchpair.Run(b, ref, benchpair.Op{Name: "100k-users", Run: func(i int) { set(many, keys[spread(i, len(keys))]) }})
	})
	b.Run("new-user-evicts", func(b *testing.B) {
		benchpair.Run(b, ref, benchpair.Op{Name: "100k-users", Run: func(i int) { set(many, fmt.Sprint("new-", i)) }})
	})
	runtime.KeepAlive(many)
}

var sink []byte

// BenchmarkFloorCopy is the floor under the memory store's Get, alternating the two cases the store's
// any-user benchmark compares: copying a 5 KB value into a new slice from 1 live value, and from 100,000
// live values picked in a scattered order.
func BenchmarkFloorCopy(b *testing.B) {
	values := make([][]byte, 100_000)
	for i := range values {
		values[i] = make([]byte, partitionSize)
		rand.Read(values[i])
	}
	one := bytes.Clone(values[0])
	benchpair.Run(b,
		benchpair.Op{Name: "1-value", Run: func(int) { sink = append(make([]byte, 0, len(one)), one...) }},
		benchpair.Op{Name: "100k-values", Run: func(i int) {
			v := values[spread(i, len(values))]
			sink = append(make([]byte, 0, len(v)), v...)
		}})
	runtime.KeepAlive(values)
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
