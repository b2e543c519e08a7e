package ginidentity

import (
	"container/list"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"sync"
	"time"
)

// oboCache keeps on-behalf-of tokens in process, per incoming token (its SHA-256), tenant and scopes, until
// five minutes before they expire. MSAL Go v1.10.1 cannot cache them itself: with WithCache its partitioned
// manager fails to load what it stored, and the export after an on-behalf-of call receives the wrong cache.
// It holds at most max entries, dropping the least recently used.
type oboCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*list.Element
	lru list.List // front: most recently used; values are *oboEntry
}

type oboEntry struct {
	key   string
	token Token
}

func newOBOCache(max int) *oboCache {
	return &oboCache{max: max, m: map[string]*list.Element{}}
}

// oboKey names the token for an incoming token by its digest: the token itself is never kept as a key.
func oboKey(digest, tenant, scopes string) string {
	return digest + "|" + tenant + "|" + scopes
}

// tokenDigest is the SHA-256 of a token, base64url-encoded.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (c *oboCache) get(key string, now time.Time) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return Token{}, false
	}
	e := el.Value.(*oboEntry)
	if !now.Add(expiryMargin).Before(e.token.ExpiresOn) {
		c.lru.Remove(el)
		delete(c.m, key)
		return Token{}, false
	}
	c.lru.MoveToFront(el)
	t := e.token
	t.Scopes, t.FromCache = slices.Clone(t.Scopes), true
	return t, true
}

func (c *oboCache) put(key string, t Token, now time.Time) {
	if !now.Add(expiryMargin).Before(t.ExpiresOn) {
		return
	}
	t.Scopes = slices.Clone(t.Scopes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		el.Value.(*oboEntry).token = t
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.m, oldest.Value.(*oboEntry).key)
	}
	c.m[key] = c.lru.PushFront(&oboEntry{key: key, token: t})
}
