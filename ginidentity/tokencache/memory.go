package tokencache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultMaxEntries = 100_000
	DefaultMaxBytes   = 256 << 20
)

// entryOverhead is the memory an entry costs beyond its key and value (entry struct, map slot, list links),
// counted against MaxBytes so that many small entries cannot exceed the bound.
const entryOverhead = 160

// MemoryOptions configures NewMemory. The zero value is valid: every zero field takes its default.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// MaxBytes bounds the memory held by keys and values plus a fixed per-entry overhead; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// Clock returns the current time; nil means time.Now. Tests set it to move time by hand.
	Clock func() time.Time
}

// Memory is an in-process Store bounded in entries and bytes. When a bound is reached it evicts the least
// recently used entries. Get and Set cost the same with one entry or millions: the map is split in shards,
// each with its own lock, map and recency list, and the bounds are counted across all shards.
//
// Eviction approximates LRU the way CLOCK does: a read only marks its entry as referenced (reads share a
// read lock and touch no other entry), and an evicted candidate that was read since it was last considered
// gets a second chance at the front of the list. With many shards the writing shard gives up its entries.
// Expired entries are dropped when read, and otherwise age out like any other.
type Memory struct {
	shards     []memShard
	mask       uint64
	seed       maphash.Seed
	now        func() time.Time
	maxEntries int64
	maxBytes   int64
	entries    atomic.Int64
	bytes      atomic.Int64
	cursor     atomic.Uint64 // next shard to evict from when the writing shard has nothing to give
}

var _ Store = (*Memory)(nil)

type memShard struct {
	mu         sync.RWMutex
	items      map[string]*memEntry
	head, tail *memEntry // head is the most recently used
	_          [64]byte  // keeps shards' locks on separate cache lines
}

type memEntry struct {
	key        string
	value      []byte // never modified once stored: readers copy it outside the lock
	expires    int64  // Unix nanoseconds
	size       int64
	prev, next *memEntry
	referenced atomic.Bool // read since eviction last considered it
}

// maxSecondChances bounds the referenced entries one eviction moves to the front before it evicts anyway,
// so that a write never walks a whole shard.
const maxSecondChances = 8

// NewMemory returns an in-memory store. It returns an error naming the field when an option is negative.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	var errs []error
	if opts.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("tokencache: MemoryOptions.MaxEntries is %d: use a positive bound, or 0 for %d", opts.MaxEntries, DefaultMaxEntries))
	}
	if opts.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("tokencache: MemoryOptions.MaxBytes is %d: use a positive bound, or 0 for %d", opts.MaxBytes, DefaultMaxBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	n := shardCount(opts.MaxEntries)
	m := &Memory{
		shards:     make([]memShard, n),
		mask:       uint64(n - 1),
		seed:       maphash.MakeSeed(),
		now:        opts.Clock,
		maxEntries: int64(opts.MaxEntries),
		maxBytes:   opts.MaxBytes,
	}
	for i := range m.shards {
		m.shards[i].items = make(map[string]*memEntry)
	}
	return m, nil
}

// shardCount picks a power of two up to 64 that leaves room for at least 64 entries per shard, so that a
// small store is one exact LRU.
func shardCount(maxEntries int) int {
	n := 64
	for n > 1 && maxEntries/n < 64 {
		n /= 2
	}
	return n
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

func (m *Memory) over() bool {
	return m.entries.Load() > m.maxEntries || m.bytes.Load() > m.maxBytes
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tokencache: get: %w", err)
	}
	now := m.now().UnixNano()
	s := m.shard(key)
	s.mu.RLock()
	e := s.items[key]
	if e == nil {
		s.mu.RUnlock()
		return nil, ErrNotFound
	}
	if now >= e.expires {
		s.mu.RUnlock()
		s.mu.Lock()
		if s.items[key] == e {
			m.remove(s, e)
		}
		s.mu.Unlock()
		return nil, ErrNotFound
	}
	if !e.referenced.Load() {
		e.referenced.Store(true)
	}
	v := e.value
	s.mu.RUnlock()
	return append(make([]byte, 0, len(v)), v...), nil
}

// Set stores a copy of value under key until expiresAt. A value larger than MaxBytes is an error, and any
// older value under key is removed so that it cannot be served in its place.
func (m *Memory) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tokencache: set: %w", err)
	}
	if err := CheckSet(key, expiresAt); err != nil {
		return err
	}
	size := int64(len(key)+len(value)) + entryOverhead
	s := m.shard(key)
	if !expiresAt.After(m.now()) || size > m.maxBytes {
		s.mu.Lock()
		if e := s.items[key]; e != nil {
			m.remove(s, e)
		}
		s.mu.Unlock()
		if size > m.maxBytes {
			return fmt.Errorf("tokencache: the entry for key %q takes %d bytes, more than the memory store's MaxBytes %d: raise MemoryOptions.MaxBytes", key, size, m.maxBytes)
		}
		return nil
	}
	v := append(make([]byte, 0, len(value)), value...)
	s.mu.Lock()
	e := s.items[key]
	if e != nil {
		m.bytes.Add(size - e.size)
		e.value, e.expires, e.size = v, expiresAt.UnixNano(), size
		e.referenced.Store(true)
	} else {
		e = &memEntry{key: key, value: v, expires: expiresAt.UnixNano(), size: size}
		s.items[key] = e
		m.entries.Add(1)
		m.bytes.Add(size)
		s.pushFront(e)
	}
	for chances := 0; m.over() && s.tail != e; {
		if t := s.tail; t.referenced.Load() && chances < maxSecondChances {
			t.referenced.Store(false)
			s.moveToFront(t)
			chances++
			continue
		}
		m.remove(s, s.tail)
	}
	s.mu.Unlock()
	// The writing shard held nothing else to evict: take the least recently used entries of the others.
	for tries := 0; m.over() && tries < 2*len(m.shards); tries++ {
		o := &m.shards[m.cursor.Add(1)&m.mask]
		o.mu.Lock()
		if o.tail != nil && o.tail != e {
			m.remove(o, o.tail)
		}
		o.mu.Unlock()
	}
	return nil
}

// Delete removes key.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tokencache: delete: %w", err)
	}
	s := m.shard(key)
	s.mu.Lock()
	if e := s.items[key]; e != nil {
		m.remove(s, e)
	}
	s.mu.Unlock()
	return nil
}

// Len returns the number of entries held, expired ones included until they are read or evicted.
func (m *Memory) Len() int { return int(m.entries.Load()) }

func (s *memShard) pushFront(e *memEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *memShard) unlink(e *memEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *memShard) moveToFront(e *memEntry) {
	if s.head != e {
		s.unlink(e)
		s.pushFront(e)
	}
}

// remove drops e from s; the caller holds s.mu.
func (m *Memory) remove(s *memShard, e *memEntry) {
	s.unlink(e)
	delete(s.items, e.key)
	m.entries.Add(-1)
	m.bytes.Add(-e.size)
}
