package ginidentity

import (
	"hash/maphash"
	"sync"
)

// validatedTokens remembers the claims of tokens already validated, so that a token seen again costs a hash
// lookup instead of an RSA verify. It is keyed by a seeded hash of the token and confirms a hit against the
// token itself, so a collision can only cost a miss. An entry counts only for the generation of signing keys
// that verified it, and the validator re-checks exp and nbf on every hit.
//
// It holds at most size entries in two generations of size/2: when the current one is full it becomes the
// previous one and the oldest is dropped; a hit in the previous generation moves the entry to the current
// one. So the bound holds under a flood of distinct tokens, and tokens in use stay.
type validatedTokens struct {
	seed maphash.Seed
	half int

	mu        sync.Mutex
	cur, prev map[uint64]cachedToken
}

type cachedToken struct {
	claims        *Claims
	keyGeneration uint64
}

// newValidatedTokens returns a cache of at most size entries (at least 2).
func newValidatedTokens(size int) *validatedTokens {
	half := max(size, 2) / 2
	return &validatedTokens{seed: maphash.MakeSeed(), half: half, cur: make(map[uint64]cachedToken)}
}

// get returns the claims of the token if it was validated with the signing keys of this generation.
func (c *validatedTokens) get(token string, keyGeneration uint64) (*Claims, bool) {
	h := maphash.String(c.seed, token)
	c.mu.Lock()
	e, ok := c.cur[h]
	if !ok {
		if e, ok = c.prev[h]; ok {
			delete(c.prev, h)
			c.insertLocked(h, e)
		}
	}
	c.mu.Unlock()
	if !ok || e.keyGeneration != keyGeneration || e.claims.rawToken != token {
		return nil, false
	}
	return e.claims, true
}

// put remembers the claims of a token validated with the signing keys of that generation.
func (c *validatedTokens) put(token string, cl *Claims, keyGeneration uint64) {
	h := maphash.String(c.seed, token)
	c.mu.Lock()
	c.insertLocked(h, cachedToken{claims: cl, keyGeneration: keyGeneration})
	c.mu.Unlock()
}

func (c *validatedTokens) insertLocked(h uint64, e cachedToken) {
	if _, ok := c.cur[h]; !ok && len(c.cur) >= c.half {
		c.prev = c.cur
		c.cur = make(map[uint64]cachedToken, c.half)
	}
	c.cur[h] = e
}

// clear forgets every token, as when the signing keys change.
func (c *validatedTokens) clear() {
	c.mu.Lock()
	c.cur = make(map[uint64]cachedToken)
	c.prev = nil
	c.mu.Unlock()
}

// len is the number of tokens held.
func (c *validatedTokens) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
