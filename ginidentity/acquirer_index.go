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
// (its JSON) on every call; the index instead remembers where in the partition's bytes a still-valid
// access token lies, and its hash. A hit reads the partition from the store, as MSAL would, and serves
// the token only if those bytes still hold it there: the partition is the requesting user's own (the index
// is keyed by partition key), it still exists (RemoveUser deleted nothing since), and MSAL has not replaced
// the token. Anything else is a miss, and MSAL decides.
type tokenIndex struct {
	seed   maphash.Seed
	max    int64
	count  atomic.Int64
	shards [indexShards]indexShard
}

const (
	indexShards = 64
	// maxTokensPerPartition bounds the tokens indexed for one user (one per resource and tenant asked).
	maxTokensPerPartition = 16
)

type indexShard struct {
	mu sync.RWMutex
	m  map[string][]indexedToken // by partition key
	_  [32]byte                  // keeps shards' locks on separate cache lines
}

// indexedToken says where a token lies in its partition's bytes, and for what it was asked.
type indexedToken struct {
	tenant    string // the tenant asked for ("" for the configured one)
	scopes    string // the scopes asked for: scopesKey
	off, n    int32  // the token's place in the partition
	sum       uint64 // maphash of the token
	expires   int64  // Unix seconds
	refreshOn int64  // Unix seconds, 0 when MSAL gave no proactive refresh time
	granted   []string
}

func newTokenIndex(max int) *tokenIndex {
	ix := &tokenIndex{seed: maphash.MakeSeed(), max: int64(max)}
	for i := range ix.shards {
		ix.shards[i].m = map[string][]indexedToken{}
	}
	return ix
}

func (ix *tokenIndex) shard(key string) *indexShard {
	return &ix.shards[maphash.String(ix.seed, key)%indexShards]
}

func (ix *tokenIndex) lookup(key, tenant, scopes string) (indexedToken, bool) {
	s := ix.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, it := range s.m[key] {
		if it.tenant == tenant && it.scopes == scopes {
			return it, true
		}
	}
	return indexedToken{}, false
}

// put indexes the token found in the partition's bytes; it does nothing when the bytes do not hold it.
func (ix *tokenIndex) put(key string, data []byte, token string, it indexedToken) {
	off := bytes.Index(data, []byte(token))
	if off < 0 || len(data) > 1<<30 {
		return
	}
	it.off, it.n, it.sum = int32(off), int32(len(token)), maphash.String(ix.seed, token)
	s := ix.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[key]
	for i := range list {
		if list[i].tenant == it.tenant && list[i].scopes == it.scopes {
			list[i] = it
			return
		}
	}
	if len(list) >= maxTokensPerPartition {
		list = list[1:]
		ix.count.Add(-1)
	}
	if ix.count.Load() >= ix.max {
		ix.evictFrom(s, key)
	}
	s.m[key] = append(slices.Clip(list), it)
	ix.count.Add(1)
}

// evictFrom drops an arbitrary partition of the shard other than keep. s.mu is held.
func (ix *tokenIndex) evictFrom(s *indexShard, keep string) {
	for k, list := range s.m {
		if k != keep {
			delete(s.m, k)
			ix.count.Add(-int64(len(list)))
			return
		}
	}
}

// drop forgets a partition's tokens.
func (ix *tokenIndex) drop(key string) {
	s := ix.shard(key)
	s.mu.Lock()
	if list, ok := s.m[key]; ok {
		delete(s.m, key)
		ix.count.Add(-int64(len(list)))
	}
	s.mu.Unlock()
}

// matches reports whether the partition's bytes still hold the token where it was indexed.
func (ix *tokenIndex) matches(data []byte, it indexedToken) bool {
	end := int(it.off) + int(it.n)
	return end <= len(data) && maphash.Bytes(ix.seed, data[it.off:end]) == it.sum
}

// fromIndex serves a cached token from the index, or reports a miss. A store error is a miss too: MSAL
// meets it again and reports it.
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
	data, err := a.store.Get(ctx, key)
	if errors.Is(err, tokencache.ErrNotFound) {
		a.index.drop(key)
	}
	if err != nil || !a.index.matches(data, it) {
		return Token{}, false
	}
	return Token{AccessToken: string(data[it.off : it.off+it.n]), ExpiresOn: time.Unix(it.expires, 0),
		Scopes: slices.Clone(it.granted), TenantID: tenant, FromCache: true}, true
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
