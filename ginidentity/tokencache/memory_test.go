package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func mustMemory(t testing.TB, opts MemoryOptions) *Memory {
	t.Helper()
	m, err := NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func has(m *Memory, key string) bool {
	_, err := m.Get(ctx, key)
	return err == nil
}

func TestNewMemoryRejectsNegativeBounds(t *testing.T) {
	_, err := NewMemory(MemoryOptions{MaxEntries: -1, MaxBytes: -5})
	if err == nil {
		t.Fatal("NewMemory accepted negative bounds")
	}
	for _, want := range []string{"MemoryOptions.MaxEntries is -1", "MemoryOptions.MaxBytes is -5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestMemoryDefaults(t *testing.T) {
	m := mustMemory(t, MemoryOptions{})
	if m.maxEntries != DefaultMaxEntries || m.maxBytes != DefaultMaxBytes || len(m.shards) != 64 {
		t.Fatalf("defaults: %d shards, %d entries, %d bytes; want 64, %d, %d", len(m.shards), m.maxEntries, m.maxBytes, DefaultMaxEntries, DefaultMaxBytes)
	}
}

func TestMemoryEvictsLeastRecentlyUsedByCount(t *testing.T) {
	// 10 entries is below the per-shard minimum, so the store is one shard and one exact LRU.
	m := mustMemory(t, MemoryOptions{MaxEntries: 10})
	exp := time.Now().Add(time.Hour)
	for i := range 10 {
		if err := m.Set(ctx, fmt.Sprint("k", i), []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
	}
	has(m, "k0") // k0 becomes the most recently used; k1 the least
	if err := m.Set(ctx, "k10", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 10 {
		t.Fatalf("Len = %d, want 10", m.Len())
	}
	if has(m, "k1") {
		t.Error("k1, the least recently used entry, survived")
	}
	for _, k := range []string{"k0", "k2", "k9", "k10"} {
		if !has(m, k) {
			t.Errorf("%s was evicted", k)
		}
	}
}

func TestMemoryEvictsByBytes(t *testing.T) {
	const maxBytes = 1 << 20
	m := mustMemory(t, MemoryOptions{MaxEntries: 100, MaxBytes: maxBytes}) // one shard: an exact LRU
	exp := time.Now().Add(time.Hour)
	value := make([]byte, 100<<10)
	for i := range 30 {
		if err := m.Set(ctx, fmt.Sprint("k", i), value, exp); err != nil {
			t.Fatal(err)
		}
		if m.bytes.Load() > maxBytes {
			t.Fatalf("after %d writes the store holds %d bytes, more than MaxBytes %d", i+1, m.bytes.Load(), maxBytes)
		}
	}
	if n := m.Len(); n != 10 {
		t.Fatalf("Len = %d, want the 10 entries of 100 KiB that fit in 1 MiB", n)
	}
	if has(m, "k19") || !has(m, "k20") || !has(m, "k29") {
		t.Fatal("eviction did not keep the most recent entries")
	}
}

func TestMemoryRejectsValueLargerThanMaxBytes(t *testing.T) {
	m := mustMemory(t, MemoryOptions{MaxBytes: 1 << 20})
	exp := time.Now().Add(time.Hour)
	if err := m.Set(ctx, "k", []byte("old"), exp); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "big", make([]byte, 1<<20-200), exp); err != nil {
		t.Fatalf("a value just under MaxBytes: %v", err)
	}
	err := m.Set(ctx, "k", make([]byte, 1<<20), exp)
	if err == nil || !strings.Contains(err.Error(), "MemoryOptions.MaxBytes") {
		t.Fatalf("Set of a 1 MiB value in a 1 MiB store: %v, want an error naming MemoryOptions.MaxBytes", err)
	}
	if has(m, "k") {
		t.Fatal("the older value survived a failed overwrite")
	}
}

// TestMemoryShardedEvictionApproximatesLRU fills a 64-shard store to twice its bound: the bound holds
// exactly, and eviction takes the oldest entries, not the newest.
func TestMemoryShardedEvictionApproximatesLRU(t *testing.T) {
	const max = 10_000
	m := mustMemory(t, MemoryOptions{MaxEntries: max})
	if len(m.shards) != 64 {
		t.Fatalf("%d shards, want 64", len(m.shards))
	}
	exp := time.Now().Add(time.Hour)
	for i := range 2 * max {
		if err := m.Set(ctx, fmt.Sprint("k", i), []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != max {
		t.Fatalf("Len = %d, want %d", m.Len(), max)
	}
	oldKept, newKept := 0, 0
	for i := range max / 2 {
		if has(m, fmt.Sprint("k", i)) {
			oldKept++
		}
		if has(m, fmt.Sprint("k", 2*max-1-i)) {
			newKept++
		}
	}
	if oldKept > 0 || newKept < max/2*99/100 {
		t.Fatalf("of the oldest %d entries %d survived, of the newest %d only %d", max/2, oldKept, max/2, newKept)
	}
}

func TestMemoryExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := mustMemory(t, MemoryOptions{Clock: clock.Now})
	exp := clock.Now().Add(time.Minute)
	if err := m.Set(ctx, "k", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute - time.Nanosecond)
	if !has(m, "k") {
		t.Fatal("entry missing one nanosecond before it expires")
	}
	clock.Add(time.Nanosecond)
	if _, err := m.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get at expiresAt: %v, want ErrNotFound", err)
	}
	if m.Len() != 0 {
		t.Fatalf("the expired entry is still held after a read (Len %d)", m.Len())
	}
	// A write whose expiresAt has passed by the store's clock stores nothing.
	if err := m.Set(ctx, "k", []byte("v"), clock.Now()); err != nil || has(m, "k") {
		t.Fatalf("Set at expiresAt = now: err %v, stored %v; want nil, false", err, has(m, "k"))
	}
}

func TestMemoryShardCount(t *testing.T) {
	for entries, want := range map[int]int{DefaultMaxEntries: 64, 4096: 64, 4095: 32, 200: 2, 127: 1, 10: 1} {
		if got := shardCount(entries); got != want {
			t.Errorf("shardCount(%d) = %d, want %d", entries, got, want)
		}
	}
}

func TestMemoryConcurrentEvictionKeepsAccounting(t *testing.T) {
	m := mustMemory(t, MemoryOptions{MaxEntries: 1000, MaxBytes: 2 << 20})
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprintf("w%d-%d", w, i%700)
				switch i % 3 {
				case 0, 1:
					if err := m.Set(ctx, k, make([]byte, i%5000), exp); err != nil {
						t.Error(err)
						return
					}
				case 2:
					m.Get(ctx, k)
					if i%7 == 0 {
						m.Delete(ctx, k)
					}
				}
			}
		})
	}
	wg.Wait()
	var entries, bytes int64
	for i := range m.shards {
		s := &m.shards[i]
		n := 0
		for e := s.head; e != nil; e = e.next {
			bytes += e.size
			n++
			if s.items[e.key] != e {
				t.Fatalf("list entry %q is not the map's entry", e.key)
			}
		}
		if n != len(s.items) {
			t.Fatalf("shard %d: %d entries in the list, %d in the map", i, n, len(s.items))
		}
		entries += int64(n)
	}
	if entries != m.entries.Load() || bytes != m.bytes.Load() {
		t.Fatalf("counted %d entries and %d bytes, the store says %d and %d", entries, bytes, m.entries.Load(), m.bytes.Load())
	}
	if entries > m.maxEntries || bytes > m.maxBytes {
		t.Fatalf("%d entries and %d bytes exceed the bounds %d and %d", entries, bytes, m.maxEntries, m.maxBytes)
	}
}
