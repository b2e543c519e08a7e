package ginidentity

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// Stores of the TokenCache and Sessions sections.
const (
	TokenCacheMemory = "Memory" // the token cache in this process only (the default)
	StoreRedis       = "Redis"  // shared by every instance of the app
	SessionsCookie   = "Cookie" // the whole session in a sealed cookie (the default)
)

// Failure modes of TokenCache:WhenRedisFails.
const (
	FailRequests     = "FailRequests"     // a request needing the cache fails with 503 (the default)
	ServeStaleFromL1 = "ServeStaleFromL1" // this instance's L1 copy is served, possibly stale; needs L1SizeMB
)

// DefaultStoreOperationTimeout bounds each Redis operation when OperationTimeout is not set.
const DefaultStoreOperationTimeout = 2 * time.Second

// TokenCacheOptions is the TokenCache section: where token acquisition keeps the users' and the app's
// tokens. With Store Redis every instance of the app shares them, encrypted with EncryptionKeys before they
// leave the process. NewTokenCacheStore builds the store it describes.
//
//	"TokenCache": {
//	  "Store": "Redis",
//	  "RedisAddress": "redis.contoso.internal:6379",
//	  "EncryptionKeys": [ "<current: openssl rand -base64 32>", "<previous, while rotating>" ],
//	  "L1SizeMB": 64,
//	  "WhenRedisFails": "FailRequests",
//	  "OperationTimeout": "2s"
//	}
//
// or, from the environment: TokenCache__Store=Redis, TokenCache__RedisAddress=...,
// TokenCache__EncryptionKeys__0=..., TokenCache__EncryptionKeys__1=..., TokenCache__L1SizeMB=64.
type TokenCacheOptions struct {
	// Store is Memory (the default when RedisAddress is empty: this process only) or Redis (the default when
	// RedisAddress is set).
	Store string `json:"Store"`
	// RedisAddress is host:port, or a redis:// or rediss:// (TLS) URL with credentials and database:
	// rediss://user:password@host:6380/0. It prints with its credentials redacted.
	RedisAddress string `json:"RedisAddress" secret:"url"`
	// KeyPrefix starts every Redis key; default "ginidentity:tokencache:{ClientId}:". Apps sharing a Redis need
	// their own.
	KeyPrefix string `json:"KeyPrefix"`
	// EncryptionKeys are base64 AES-256 keys (32 random bytes: `openssl rand -base64 32`). The first encrypts
	// every write; the others only decrypt entries written before a rotation. Required with Redis. Every
	// instance needs the same list.
	EncryptionKeys []string `json:"EncryptionKeys" secret:"true"`
	// InsecureStoreTokensInClearText lets Redis hold tokens unencrypted, readable by anyone who can read Redis
	// or its backups: for local experiments only. It cannot be combined with EncryptionKeys.
	InsecureStoreTokensInClearText bool `json:"InsecureStoreTokensInClearText"`
	// L1SizeMB, when positive, keeps on each instance an in-memory copy of recent entries, bounded to this
	// many megabytes, served only after Redis confirms it is current (see package rediscache).
	L1SizeMB int `json:"L1SizeMB"`
	// WhenRedisFails is FailRequests (the default: requests needing a token fail cleanly with 503) or
	// ServeStaleFromL1 (a token this instance holds in its L1 is served while Redis is down, even if another
	// instance has since removed it; needs L1SizeMB).
	WhenRedisFails string `json:"WhenRedisFails"`
	// OperationTimeout bounds every Redis operation, as a Go duration ("2s", "500ms") or a .NET TimeSpan
	// ("00:00:02"); default 2 seconds.
	OperationTimeout string `json:"OperationTimeout"`

	// Extra holds the section's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// SessionsOptions is the Sessions section: where a web app keeps its signed-in users' sessions. The default
// cookie store needs no server; Redis lets every instance of the app see every session and lets sign-out
// end a session everywhere at once (a cookie, once copied, stays valid until it expires). NewSessionStore
// builds the store it describes.
//
//	"Sessions": { "Store": "Redis" }   // on TokenCache:RedisAddress, unless Sessions:RedisAddress is set
//
// Sessions hold who the user is, never a token; in Redis they are sealed with the web app's session keys.
type SessionsOptions struct {
	// Store is Cookie (the default) or Redis.
	Store string `json:"Store"`
	// RedisAddress is as TokenCache:RedisAddress, which is the default.
	RedisAddress string `json:"RedisAddress" secret:"url"`
	// KeyPrefix starts every Redis key; default "ginidentity:session:{ClientId}:".
	KeyPrefix string `json:"KeyPrefix"`
	// OperationTimeout is as TokenCache:OperationTimeout, which is the default.
	OperationTimeout string `json:"OperationTimeout"`

	// Extra holds the section's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// storeName returns the TokenCache store: Store in its canonical spelling, or the default.
func (t TokenCacheOptions) storeName() string {
	switch {
	case strings.EqualFold(t.Store, TokenCacheMemory):
		return TokenCacheMemory
	case strings.EqualFold(t.Store, StoreRedis):
		return StoreRedis
	case t.Store == "" && t.RedisAddress != "":
		return StoreRedis
	case t.Store == "":
		return TokenCacheMemory
	}
	return t.Store
}

// storeName returns the Sessions store: Store in its canonical spelling, or the default.
func (s SessionsOptions) storeName() string {
	switch {
	case s.Store == "", strings.EqualFold(s.Store, SessionsCookie):
		return SessionsCookie
	case strings.EqualFold(s.Store, StoreRedis):
		return StoreRedis
	}
	return s.Store
}

// sessionsRedisAddress is Sessions:RedisAddress, or TokenCache:RedisAddress.
func (c *Config) sessionsRedisAddress() string {
	if c.Sessions.RedisAddress != "" {
		return c.Sessions.RedisAddress
	}
	return c.TokenCache.RedisAddress
}

// sessionsTimeout is Sessions:OperationTimeout, or TokenCache:OperationTimeout, or the default.
func (c *Config) sessionsTimeout() time.Duration {
	for _, s := range []string{c.Sessions.OperationTimeout, c.TokenCache.OperationTimeout} {
		if d, err := parseTimeout(s); s != "" && err == nil {
			return d
		}
	}
	return DefaultStoreOperationTimeout
}

// tokenCacheKeyPrefix and sessionsKeyPrefix are the configured prefixes, or the defaults naming the app.
func (c *Config) tokenCacheKeyPrefix() string {
	if c.TokenCache.KeyPrefix != "" {
		return c.TokenCache.KeyPrefix
	}
	return "ginidentity:tokencache:" + c.AzureAd.ClientID + ":"
}

func (c *Config) sessionsKeyPrefix() string {
	if c.Sessions.KeyPrefix != "" {
		return c.Sessions.KeyPrefix
	}
	return "ginidentity:session:" + c.AzureAd.ClientID + ":"
}

// stores checks the TokenCache and Sessions sections.
func (v *validator) stores(c *Config) {
	v.tokenCache(c.TokenCache)
	v.sessions(c)
}

// tokenCache checks the TokenCache section.
func (v *validator) tokenCache(t TokenCacheOptions) {
	switch t.storeName() {
	case TokenCacheMemory:
		if t.RedisAddress != "" {
			v.add("TokenCache:RedisAddress", "is set but TokenCache:Store is Memory",
				"set TokenCache:Store to Redis to share the token cache, or remove TokenCache:RedisAddress")
		}
	case StoreRedis:
		if t.RedisAddress == "" {
			v.add("TokenCache:RedisAddress", "is required when TokenCache:Store is Redis",
				"set it to host:port or a redis:// URL in appsettings.json or TokenCache__RedisAddress")
		} else {
			v.redisAddress("TokenCache:RedisAddress", t.RedisAddress)
		}
		v.encryptionKeys(t)
		if t.L1SizeMB < 0 {
			v.add("TokenCache:L1SizeMB", fmt.Sprintf("is %d", t.L1SizeMB), "use a positive size in megabytes, or 0 for no L1")
		}
		switch {
		case t.WhenRedisFails == "", strings.EqualFold(t.WhenRedisFails, FailRequests):
		case strings.EqualFold(t.WhenRedisFails, ServeStaleFromL1):
			if t.L1SizeMB <= 0 {
				v.add("TokenCache:WhenRedisFails", "is ServeStaleFromL1 but there is no L1 to serve from",
					"set TokenCache:L1SizeMB, or use FailRequests")
			}
		default:
			v.add("TokenCache:WhenRedisFails", fmt.Sprintf("%q is not a failure mode", t.WhenRedisFails), "use FailRequests or ServeStaleFromL1")
		}
		v.timeout("TokenCache:OperationTimeout", t.OperationTimeout)
	default:
		v.add("TokenCache:Store", fmt.Sprintf("%q is not a token cache store", t.Store), "use Memory or Redis")
	}
}

// sessions checks the Sessions section, whose Redis address defaults to the token cache's.
func (v *validator) sessions(c *Config) {
	s, t := c.Sessions, c.TokenCache
	switch s.storeName() {
	case SessionsCookie:
	case StoreRedis:
		switch {
		case s.RedisAddress != "":
			v.redisAddress("Sessions:RedisAddress", s.RedisAddress)
		case t.RedisAddress == "":
			v.add("Sessions:RedisAddress", "is required when Sessions:Store is Redis",
				"set it, or TokenCache:RedisAddress, to host:port or a redis:// URL in appsettings.json or Sessions__RedisAddress")
		}
		v.timeout("Sessions:OperationTimeout", s.OperationTimeout)
	default:
		v.add("Sessions:Store", fmt.Sprintf("%q is not a session store", s.Store), "use Cookie or Redis")
	}
}

// encryptionKeys checks TokenCache:EncryptionKeys for a Redis store. A message never shows a key.
func (v *validator) encryptionKeys(t TokenCacheOptions) {
	const generate = "use 32 random bytes in base64, from `openssl rand -base64 32`"
	switch {
	case len(t.EncryptionKeys) == 0 && !t.InsecureStoreTokensInClearText:
		v.add("TokenCache:EncryptionKeys", "is required when TokenCache:Store is Redis, so that Redis never holds a token in clear text",
			generate+", in appsettings.json or TokenCache__EncryptionKeys__0 (the same on every instance)")
	case len(t.EncryptionKeys) > 0 && t.InsecureStoreTokensInClearText:
		v.add("TokenCache:InsecureStoreTokensInClearText", "is set together with TokenCache:EncryptionKeys", "remove InsecureStoreTokensInClearText")
	}
	for i, k := range t.EncryptionKeys {
		if _, err := tokencache.ParseEncryptionKeys(k); err != nil {
			field := fmt.Sprintf("TokenCache:EncryptionKeys:%d", i)
			v.errs = append(v.errs, &ConfigError{Field: field, Problem: "is not a base64 AES-256 key", Fix: generate,
				Source: v.source(field), Err: err})
		}
	}
}

// redisAddress checks the form of a Redis address: host:port, or a redis:// or rediss:// URL.
func (v *validator) redisAddress(field, addr string) {
	if !strings.Contains(addr, "://") {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			v.add(field, fmt.Sprintf("%q is not host:port", addr), "write it like 127.0.0.1:6379, or as a redis:// or rediss:// URL")
		}
		return
	}
	u, err := url.Parse(addr)
	switch {
	case err != nil:
		v.add(field, "is not a valid URL", "write it like redis://user:password@host:6379/0 or rediss:// for TLS")
	case u.Scheme != "redis" && u.Scheme != "rediss":
		v.add(field, fmt.Sprintf("has the scheme %q", u.Scheme), "use redis:// or rediss:// (TLS)")
	case u.Host == "":
		v.add(field, "has no host", "write it like redis://user:password@host:6379/0")
	}
}

// timeout checks a duration setting.
func (v *validator) timeout(field, s string) {
	if _, err := parseTimeout(s); err != nil {
		v.add(field, fmt.Sprintf("%q is not a duration", s), `write a positive duration such as "2s", "500ms" or "00:00:02"`)
	}
}

// parseTimeout reads a duration written as Go writes it ("2s") or as a .NET TimeSpan ("00:00:02.5"); ""
// is DefaultStoreOperationTimeout.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultStoreOperationTimeout, nil
	}
	var d time.Duration
	var err error
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		h, errH := strconv.Atoi(parts[0])
		m, errM := strconv.Atoi(parts[1])
		sec, errS := strconv.ParseFloat(parts[2], 64)
		if errH != nil || errM != nil || errS != nil || h < 0 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
			return 0, fmt.Errorf("%q is not hh:mm:ss", s)
		}
		d = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

// redactURL replaces the credentials of a redis:// URL with xxxxx, for messages and printing.
func redactURL(s string) string {
	i, j := strings.Index(s, "://"), strings.LastIndex(s, "@")
	if i < 0 || j < i {
		return s
	}
	return s[:i+3] + "xxxxx" + s[j:]
}
