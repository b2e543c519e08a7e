package ginidentity

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// tokenIndex serves cached access tokens without MSAL. MSAL Go's silent path decodes the whole partition
// (its JSON) on every call; the index remembers, per partition, the access tokens MSAL returned and for
// what they were asked. It works in one of two modes.
//
// When the acquirer owns its store (AcquirerOptions.Store nil), every write and delete of a partition goes
// through the acquirer, which drops the partition's index entries first: the index keeps the tokens and
// serves them without reading the store.
//
// With a store of the app's own, possibly shared by instances, it keeps where in the partition's bytes each
// token lies, and its hash. A hit reads the partition from the store and serves the token only if those
// bytes still hold it there: the partition is the requesting user's own (the index is keyed by partition
// key), it still exists (no instance removed the user since), and MSAL has not replaced the token.
//
// Anything else is a miss, and MSAL decides.
type tokenIndex struct {
	seed    maphash.Seed
	max     int64
	trusted bool // the acquirer owns the store: tokens are kept and served without reading it
	count   atomic.Int64
	shards  [indexShards]indexShard
	scopes  scopeInterner
}

const (
	indexShards = 64
	// maxTokensPerPartition bounds the tokens indexed for one user (one per resource and tenant asked).
	maxTokensPerPartition = 16
)

type indexShard struct {
	mu sync.RWMutex
	m  map[string]indexSlot // by partition key
	_  [32]byte             // keeps shards' locks on separate cache lines
}

// indexSlot holds a partition's tokens: the first in the map's own memory (most users ask for one
// resource), the others beside. A hit then touches little memory but the map's.
type indexSlot struct {
	first indexedToken
	more  []indexedToken
}

func (sl *indexSlot) len() int { return 1 + len(sl.more) }

func (sl *indexSlot) at(i int) *indexedToken {
	if i == 0 {
		return &sl.first
	}
	return &sl.more[i-1]
}

// indexedToken is a token of a partition and what it was asked for.
type indexedToken struct {
	tenant    string    // the tenant asked for ("" for the configured one)
	set       *scopeSet // the scopes asked for and granted
	token     string    // the token (trusted mode)
	off, n    int32     // the token's place in the partition (checked mode)
	sum       uint64    // maphash of the token (checked mode)
	expires   int64     // Unix seconds
	refreshOn int64     // Unix seconds, 0 when MSAL gave no proactive refresh time
}

func newTokenIndex(max int, trusted bool) *tokenIndex {
	ix := &tokenIndex{seed: maphash.MakeSeed(), max: int64(max), trusted: trusted}
	for i := range ix.shards {
		ix.shards[i].m = map[string]indexSlot{}
	}
	return ix
}

func (ix *tokenIndex) shard(key string) *indexShard {
	return &ix.shards[maphash.String(ix.seed, key)%indexShards]
}

// lookup finds the token indexed for the partition, tenant and scopes (a scopesKey from ix.scopes).
func (ix *tokenIndex) lookup(key, tenant, scopes string) (indexedToken, bool) {
	s := ix.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	sl, ok := s.m[key]
	if !ok {
		return indexedToken{}, false
	}
	for i := range sl.len() {
		if it := sl.at(i); it.tenant == tenant && it.set.key == scopes {
			return *it, true
		}
	}
	return indexedToken{}, false
}

// put indexes a token MSAL returned, found in the bytes of the partition the call read or wrote (checked
// mode; it does nothing when they do not hold it). removed is asked under the shard's lock, so that a
// RemoveUser running meanwhile (which drops the partition's entries under the same lock) wins.
func (ix *tokenIndex) put(key string, data []byte, token string, it indexedToken, removed func() bool) {
	if ix.trusted {
		it.token = token
	} else {
		off := bytes.Index(data, []byte(token))
		if off < 0 || len(data) > 1<<30 {
			return
		}
		it.off, it.n, it.sum = int32(off), int32(len(token)), maphash.String(ix.seed, token)
	}
	s := ix.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if removed() {
		return
	}
	sl, ok := s.m[key]
	if !ok {
		if ix.count.Load() >= ix.max {
			ix.evictFrom(s, key)
		}
		s.m[key] = indexSlot{first: it}
		ix.count.Add(1)
		return
	}
	for i := range sl.len() {
		if old := sl.at(i); old.tenant == it.tenant && old.set.key == it.set.key {
			*old = it
			s.m[key] = sl
			return
		}
	}
	if sl.len() >= maxTokensPerPartition {
		sl.more = sl.more[1:]
		ix.count.Add(-1)
	}
	sl.more = append(slices.Clip(sl.more), it)
	s.m[key] = sl
	ix.count.Add(1)
}

// evictFrom drops an arbitrary partition of the shard other than keep. s.mu is held.
func (ix *tokenIndex) evictFrom(s *indexShard, keep string) {
	for k, sl := range s.m {
		if k != keep {
			delete(s.m, k)
			ix.count.Add(-int64(sl.len()))
			return
		}
	}
}

// drop forgets a partition's tokens.
func (ix *tokenIndex) drop(key string) {
	s := ix.shard(key)
	s.mu.Lock()
	if sl, ok := s.m[key]; ok {
		delete(s.m, key)
		ix.count.Add(-int64(sl.len()))
	}
	s.mu.Unlock()
}

// matches reports whether the partition's bytes still hold the token where it was indexed.
func (ix *tokenIndex) matches(data []byte, it indexedToken) bool {
	end := int(it.off) + int(it.n)
	return end <= len(data) && maphash.Bytes(ix.seed, data[it.off:end]) == it.sum
}

// fromIndex serves a cached token from the index, or reports a miss. In checked mode a store error is a
// miss too: MSAL meets it again and reports it.
func (a *TokenAcquirer) fromIndex(ctx context.Context, key, tenant, scopes string) (Token, bool) {
	it, ok := a.index.lookup(key, tenant, scopes)
	if !ok {
		return Token{}, false
	}
	// MSAL serves no token expiring within five minutes; neither does the index. Past MSAL's proactive
	// refresh time, MSAL decides.
	now := a.now()
	if now.Add(expiryMargin).Unix() >= it.expires || (it.refreshOn != 0 && now.Unix() >= it.refreshOn) {
		return Token{}, false
	}
	token := it.token
	if !a.index.trusted {
		data, err := a.store.Get(ctx, key)
		if errors.Is(err, tokencache.ErrNotFound) {
			a.index.drop(key)
		}
		if err != nil || !a.index.matches(data, it) {
			return Token{}, false
		}
		token = string(data[it.off : it.off+it.n])
	}
	return Token{AccessToken: token, ExpiresOn: time.Unix(it.expires, 0), Scopes: slices.Clone(it.set.granted),
		TenantID: tenant, FromCache: true}, true
}

// expiryMargin is how long before it expires a cached access token stops being served, as MSAL does.
const expiryMargin = 5 * time.Minute

// scopesKey is the scopes as one string: lower case, sorted, once each.
func scopesKey(scopes []string) string {
	if len(scopes) == 1 {
		return strings.ToLower(scopes[0])
	}
	ls := make([]string, len(scopes))
	for i, s := range scopes {
		ls[i] = strings.ToLower(s)
	}
	slices.Sort(ls)
	return strings.Join(slices.Compact(ls), " ")
}

// scopeSet is a set of scopes asked for (its scopesKey) and those granted: shared by every user's entry.
type scopeSet struct {
	key     string
	granted []string
}

// scopeInterner keeps one copy of each scopes key and scope set an app uses (a handful), so that a lookup
// compares keys by pointer and every user's entry shares its set. Past maxInterned distinct values it
// keeps no more: values are then compared by content, as correct and a little slower.
type scopeInterner struct {
	mu   sync.RWMutex
	keys map[string]string // a single scope as asked, or a scopesKey, to its interned scopesKey
	sets map[string]*scopeSet
}

const maxInterned = 4096

// key returns the interned scopesKey of the scopes.
func (si *scopeInterner) key(scopes []string) string {
	raw := ""
	if len(scopes) == 1 {
		raw = scopes[0]
		si.mu.RLock()
		k, ok := si.keys[raw]
		si.mu.RUnlock()
		if ok {
			return k
		}
	}
	k := scopesKey(scopes)
	si.mu.Lock()
	defer si.mu.Unlock()
	if canon, ok := si.keys[k]; ok {
		k = canon
	} else if len(si.keys) < maxInterned {
		if si.keys == nil {
			si.keys = map[string]string{}
		}
		si.keys[k] = k
	}
	if raw != "" && len(si.keys) < maxInterned {
		si.keys[raw] = k
	}
	return k
}

// set returns the interned set of the scopes key and the granted scopes.
func (si *scopeInterner) set(key string, granted []string) *scopeSet {
	id := key + "\x00" + strings.Join(granted, " ")
	si.mu.RLock()
	ss, ok := si.sets[id]
	si.mu.RUnlock()
	if ok {
		return ss
	}
	ss = &scopeSet{key: key, granted: slices.Clone(granted)}
	si.mu.Lock()
	defer si.mu.Unlock()
	if old, ok := si.sets[id]; ok {
		return old
	}
	if len(si.sets) < maxInterned {
		if si.sets == nil {
			si.sets = map[string]*scopeSet{}
		}
		si.sets[id] = ss
	}
	return ss
}
