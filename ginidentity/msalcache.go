package ginidentity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// msalCache connects one MSAL client call to the store: MSAL's cache.ExportReplace over tokencache.Store,
// one partition per key MSAL passes in its hints (a user's home account id; an app and tenant).
//
// It works around MSAL Go v1.10.1's cache defects, each shown by a test (acquirer_defects_test.go,
// acquirer_concurrency_test.go):
//   - A Replace that finds nothing still resets MSAL's memory (Unmarshal of "{}"): otherwise the previous
//     partition stays in memory and is exported under the next key, one user's tokens in another's entry.
//   - It serves one call of one fresh MSAL client: a long-lived client shared by concurrent requests
//     loads one partition over another between Replace and Read, and reports tokens missing (false misses).
//   - Export with an empty partition key (MSAL's RemoveAccount) writes nothing; RemoveUser deletes the
//     partition itself.
//
// It also records what it read and wrote, so that the acquirer can index the token MSAL returns.
type msalCache struct {
	a       *TokenAcquirer
	started uint64 // the call's sequence number, for RemoveUser's tombstones
	// dropScopes hides from MSAL the access tokens covering these scopes (WithForceRefresh).
	dropScopes []string
	// shift is how many seconds the acquirer's clock is ahead of the system clock MSAL reads (0 unless
	// AcquirerOptions.Now is set). The store holds times on the acquirer's clock; MSAL sees them on its own.
	shift int64
	// naive turns off the reset on a miss, for the tests that prove it is needed.
	naive bool

	mu      sync.Mutex
	missed  bool   // the last Replace found no partition
	found   bool   // an earlier Replace of this call found it
	key     string // the partition last read or written
	data    []byte // its bytes as they are in the store
	written bool
}

var _ cache.ExportReplace = (*msalCache)(nil)

// emptyPartition is what MSAL unmarshals for a partition the store does not have.
var emptyPartition = []byte("{}")

// Replace loads the partition named in the hints into MSAL's memory.
func (c *msalCache) Replace(ctx context.Context, u cache.Unmarshaler, hints cache.ReplaceHints) error {
	var data []byte
	var err error
	if hints.PartitionKey != "" {
		data, err = c.a.store.Get(ctx, hints.PartitionKey)
	} else {
		err = tokencache.ErrNotFound
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(err, tokencache.ErrNotFound):
		c.missed, c.key, c.data = true, hints.PartitionKey, nil
		if c.naive {
			return nil
		}
		return u.Unmarshal(emptyPartition)
	case err != nil:
		return fmt.Errorf("ginidentity: read the token cache: %w", err)
	}
	c.missed, c.found, c.key, c.data = false, true, hints.PartitionKey, data
	if len(c.dropScopes) > 0 || c.shift != 0 {
		if data, err = rewritePartition(data, partitionRewrite{shift: -c.shift, dropScopes: c.dropScopes}); err != nil {
			return err
		}
	}
	return u.Unmarshal(data)
}

// Export writes MSAL's memory to the partition named in the hints.
func (c *msalCache) Export(ctx context.Context, m cache.Marshaler, hints cache.ExportHints) error {
	if hints.PartitionKey == "" || c.a.removed.since(hints.PartitionKey, c.started) {
		// Nothing is written under "" (MSAL's RemoveAccount), nor for a user signed out during this call.
		return nil
	}
	c.mu.Lock()
	vanished := c.found && c.missed && c.key == hints.PartitionKey
	c.mu.Unlock()
	if vanished {
		// The partition was there when the call began and was gone when MSAL re-read it after the token
		// endpoint answered (it reads before every write): the user signed out meanwhile, perhaps on another
		// instance sharing the store, where this instance's tombstones cannot see it. Writing would bring the
		// signed-out user's tokens back.
		c.a.index.drop(hints.PartitionKey)
		return nil
	}
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("ginidentity: encode the token cache: %w", err)
	}
	if data, err = rewritePartition(data, partitionRewrite{shift: c.shift, dropIDTokens: true}); err != nil {
		return err
	}
	c.a.index.drop(hints.PartitionKey) // the acquirer indexes the tokens of what it writes anew
	expires, keep := c.a.partitionExpiry(data)
	if !keep {
		return c.a.store.Delete(ctx, hints.PartitionKey)
	}
	if err := c.a.store.Set(ctx, hints.PartitionKey, data, expires); err != nil {
		return fmt.Errorf("ginidentity: write the token cache: %w", err)
	}
	c.mu.Lock()
	c.key, c.data, c.written = hints.PartitionKey, data, true
	c.mu.Unlock()
	return nil
}

// observed returns the partition last read or written and its bytes, and whether the last read missed.
func (c *msalCache) observed() (key string, data []byte, missed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.key, c.data, c.missed && !c.written
}

// msalPartition is the part of MSAL's cache format (shared by every MSAL) the acquirer reads.
type msalPartition struct {
	AccessToken  map[string]msalAccessToken `json:"AccessToken"`
	RefreshToken map[string]json.RawMessage `json:"RefreshToken"`
}

type msalAccessToken struct {
	Target    string    `json:"target"`
	Realm     string    `json:"realm"`
	ExpiresOn unixField `json:"expires_on"`
}

// unixField is a Unix time as MSAL writes it: a string of seconds (or a number).
type unixField int64

func (u *unixField) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*u = unixField(n)
	return err
}

// accessTokenTimes are the times MSAL stores with an access token, as Unix seconds.
var accessTokenTimes = []string{"cached_at", "expires_on", "extended_expires_on", "refresh_on"}

// partitionRewrite says how to change a partition on its way between the store and MSAL.
type partitionRewrite struct {
	shift        int64    // move the access tokens' times by this many seconds
	dropScopes   []string // remove the access tokens covering these scopes (a forced refresh)
	dropIDTokens bool     // remove the ID tokens
}

// rewritePartition changes a partition, leaving the rest of MSAL's JSON as it is. Without the access
// tokens it removes, MSAL gets new ones with the refresh token.
//
// The ID tokens are removed from what is stored: the acquirer never reads one back (RedeemCode returns the
// sign-in's; the sign-in validated it and keeps its claims in the session), and it is a third of a
// partition. MSAL keeps the account and serves silent calls without it.
func rewritePartition(data []byte, r partitionRewrite) ([]byte, error) {
	invalid := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("ginidentity: the token cache partition is not MSAL's JSON: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return invalid(err)
	}
	if r.dropIDTokens {
		delete(doc, "IdToken")
	}
	if raw, ok := doc["AccessToken"]; ok && (r.shift != 0 || len(r.dropScopes) > 0) {
		var ats map[string]map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ats); err != nil {
			return invalid(err)
		}
		for k, at := range ats {
			var target string
			if raw, ok := at["target"]; ok {
				if err := json.Unmarshal(raw, &target); err != nil {
					return invalid(err)
				}
			}
			if len(r.dropScopes) > 0 && coversScopes(target, r.dropScopes) {
				delete(ats, k)
				continue
			}
			for _, name := range accessTokenTimes {
				raw, ok := at[name]
				if !ok || r.shift == 0 {
					continue
				}
				var t unixField
				if err := json.Unmarshal(raw, &t); err != nil {
					return invalid(err)
				}
				if t != 0 {
					at[name], _ = json.Marshal(strconv.FormatInt(int64(t)+r.shift, 10))
				}
			}
		}
		raw, err := json.Marshal(ats)
		if err != nil {
			return nil, err
		}
		doc["AccessToken"] = raw
	}
	return json.Marshal(doc)
}

// coversScopes reports whether a space-separated target holds every scope, ignoring case, as MSAL matches.
func coversScopes(target string, scopes []string) bool {
	have := strings.Fields(target)
	for _, s := range scopes {
		found := false
		for _, h := range have {
			if strings.EqualFold(h, s) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// partitionExpiry says until when the store keeps a partition: a partition with a refresh token for
// UserCacheLifetime after this write, one with access tokens only until the last of them expires. keep is
// false for a partition holding nothing that can still be used.
func (a *TokenAcquirer) partitionExpiry(data []byte) (expires time.Time, keep bool) {
	now := a.now()
	var p msalPartition
	if err := json.Unmarshal(data, &p); err != nil {
		return now.Add(a.userCacheLifetime), true // opaque to us: keep it as a user's
	}
	if len(p.RefreshToken) > 0 {
		return now.Add(a.userCacheLifetime), true
	}
	for _, at := range p.AccessToken {
		if t := time.Unix(int64(at.ExpiresOn), 0); t.After(expires) {
			expires = t
		}
	}
	return expires, expires.After(now)
}

// tombstones remembers the partitions RemoveUser deleted, for as long as a call that started before may
// still write one back: its Export is then dropped, so a user signed out stays signed out. Calls and
// removals are ordered by a sequence number, not a clock, so that a test clock standing still changes
// nothing. Entries live between tombstoneTTL and twice that: two maps take turns.
type tombstones struct {
	seq atomic.Uint64

	mu            sync.Mutex
	current, prev map[string]uint64
	rotated       time.Time
}

// tombstoneTTL outlasts any token call (MSAL gives each HTTP call 30 seconds by default).
const tombstoneTTL = 5 * time.Minute

// start returns the sequence number of a call starting now.
func (t *tombstones) start() uint64 { return t.seq.Add(1) }

func (t *tombstones) add(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); t.current == nil || now.Sub(t.rotated) > tombstoneTTL {
		t.prev, t.current, t.rotated = t.current, map[string]uint64{}, now
	}
	t.current[key] = t.seq.Add(1)
}

// since reports whether key was removed after the call numbered start began.
func (t *tombstones) since(key string, start uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current[key] > start || t.prev[key] > start
}
