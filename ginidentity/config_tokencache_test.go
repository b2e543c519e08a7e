package ginidentity

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Two valid keys (`openssl rand -base64 32`), never to be printed.
const (
	testCacheKey     = "q3pY0bZl8Xo7cJd4Tn2VhR6wKs1uMe9AiFgLtBrNyQU="
	testCacheKeyPrev = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGw="
)

// The TokenCache and Sessions sections load from appsettings.json and from TokenCache__* and Sessions__*
// variables, with .NET's naming, as the AzureAd section does.
func TestLoadTokenCacheSection(t *testing.T) {
	file := `{
  "TokenCache": {
    "Store": "redis",
    "RedisAddress": "redis.contoso.internal:6379",
    "EncryptionKeys": ["` + testCacheKey + `"],
    "L1SizeMB": 64,
    "WhenRedisFails": "ServeStaleFromL1",
    "OperationTimeout": "00:00:01.5",
  },
  "Sessions": { "Store": "Redis" },
}`
	cfg, err := LoadConfigFrom("appsettings.json", []byte(file), []string{
		"TokenCache__EncryptionKeys__1=" + testCacheKeyPrev,
		"TokenCache__L1SizeMB=32",
		"Sessions__KeyPrefix=contoso:sessions:",
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "TokenCache", cfg.TokenCache, TokenCacheOptions{Store: "redis", RedisAddress: "redis.contoso.internal:6379",
		EncryptionKeys: []string{testCacheKey, testCacheKeyPrev}, L1SizeMB: 32, WhenRedisFails: ServeStaleFromL1, OperationTimeout: "00:00:01.5"})
	equal(t, "store", cfg.TokenCache.storeName(), StoreRedis)
	equal(t, "Sessions", cfg.Sessions, SessionsOptions{Store: "Redis", KeyPrefix: "contoso:sessions:"})
	equal(t, "sessions address", cfg.sessionsRedisAddress(), "redis.contoso.internal:6379")

	// Environment only; the keys as one space-separated string; the store implied by the address.
	cfg, err = LoadConfigFrom("", nil, []string{
		"TokenCache__RedisAddress=rediss://app:pa55word@cache.contoso.net:6380/2",
		"TokenCache__EncryptionKeys=" + testCacheKey + " " + testCacheKeyPrev,
	})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "store", cfg.TokenCache.storeName(), StoreRedis)
	equal(t, "keys", cfg.TokenCache.EncryptionKeys, []string{testCacheKey, testCacheKeyPrev})
	equal(t, "sessions", cfg.Sessions.storeName(), SessionsCookie)

	cfg, err = LoadConfigFrom("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "default store", cfg.TokenCache.storeName(), TokenCacheMemory)
}

func TestLoadTokenCacheTypeErrors(t *testing.T) {
	for _, tt := range []struct {
		name, json string
		env        []string
		want       string
	}{
		{"a fraction", `{"TokenCache": {"L1SizeMB": 1.5}}`, nil, `t.json:1:29: TokenCache:L1SizeMB "1.5" is not a whole number: write it like 64`},
		{"a string", `{"TokenCache": {"L1SizeMB": true}}`, nil, `t.json:1:29: TokenCache:L1SizeMB must be a whole number, not a boolean: write it like 64`},
		{"letters from the environment", `{}`, []string{"TokenCache__L1SizeMB=64MB"}, `environment variable TokenCache__L1SizeMB: TokenCache:L1SizeMB "64MB" is not a whole number: write it like 64`},
		{"a number for a duration", `{"TokenCache": {"OperationTimeout": 2}}`, nil, `t.json:1:37: TokenCache:OperationTimeout must be a string, not a number: put the value in double quotes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfigFrom("t.json", []byte(tt.json), tt.env)
			equal(t, "errors", errorMessages(t, err), []string{tt.want})
		})
	}
}

func TestValidateTokenCache(t *testing.T) {
	redis := func(edit func(c *Config)) func(c *Config) {
		return func(c *Config) {
			c.TokenCache = TokenCacheOptions{Store: "Redis", RedisAddress: "127.0.0.1:6379", EncryptionKeys: []string{testCacheKey}}
			if edit != nil {
				edit(c)
			}
		}
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"memory by default", func(c *Config) {}, nil},
		{"redis", redis(nil), nil},
		{"redis with every option", redis(func(c *Config) {
			c.TokenCache.EncryptionKeys = append(c.TokenCache.EncryptionKeys, testCacheKeyPrev)
			c.TokenCache.L1SizeMB, c.TokenCache.WhenRedisFails, c.TokenCache.OperationTimeout = 16, "servestalefroml1", "750ms"
			c.TokenCache.RedisAddress = "redis://:pw@localhost:6379/1"
			c.Sessions = SessionsOptions{Store: "redis", OperationTimeout: "00:00:03"}
		}), nil},
		{"clear text, explicitly", redis(func(c *Config) {
			c.TokenCache.EncryptionKeys, c.TokenCache.InsecureStoreTokensInClearText = nil, true
		}), nil},
		{"an unknown store", func(c *Config) { c.TokenCache.Store = "Memcached" }, []string{
			`TokenCache:Store "Memcached" is not a token cache store: use Memory or Redis`}},
		{"redis without an address", redis(func(c *Config) { c.TokenCache.RedisAddress = "" }), []string{
			"TokenCache:RedisAddress is required when TokenCache:Store is Redis: set it to host:port or a redis:// URL in appsettings.json or TokenCache__RedisAddress"}},
		{"an address for the memory store", func(c *Config) { c.TokenCache = TokenCacheOptions{Store: "Memory", RedisAddress: "localhost:6379"} }, []string{
			"TokenCache:RedisAddress is set but TokenCache:Store is Memory: set TokenCache:Store to Redis to share the token cache, or remove TokenCache:RedisAddress"}},
		{"an address without a port", redis(func(c *Config) { c.TokenCache.RedisAddress = "localhost" }), []string{
			`TokenCache:RedisAddress "localhost" is not host:port: write it like 127.0.0.1:6379, or as a redis:// or rediss:// URL`}},
		{"a URL of another scheme", redis(func(c *Config) { c.TokenCache.RedisAddress = "http://user:pw@localhost:6379" }), []string{
			`TokenCache:RedisAddress has the scheme "http": use redis:// or rediss:// (TLS)`}},
		{"redis without keys", redis(func(c *Config) { c.TokenCache.EncryptionKeys = nil }), []string{
			"TokenCache:EncryptionKeys is required when TokenCache:Store is Redis, so that Redis never holds a token in clear text: " +
				"use 32 random bytes in base64, from `openssl rand -base64 32`, in appsettings.json or TokenCache__EncryptionKeys__0 (the same on every instance)"}},
		{"keys and clear text", redis(func(c *Config) { c.TokenCache.InsecureStoreTokensInClearText = true }), []string{
			"TokenCache:InsecureStoreTokensInClearText is set together with TokenCache:EncryptionKeys: remove InsecureStoreTokensInClearText"}},
		{"keys that are not AES-256 keys", redis(func(c *Config) {
			c.TokenCache.EncryptionKeys = []string{"c2hvcnQta2V5", "not base64 at all!", ""}
		}), []string{
			"TokenCache:EncryptionKeys:0 is not a base64 AES-256 key: use 32 random bytes in base64, from `openssl rand -base64 32`",
			"TokenCache:EncryptionKeys:1 is not a base64 AES-256 key: use 32 random bytes in base64, from `openssl rand -base64 32`",
			"TokenCache:EncryptionKeys:2 is not a base64 AES-256 key: use 32 random bytes in base64, from `openssl rand -base64 32`"}},
		{"a negative L1", redis(func(c *Config) { c.TokenCache.L1SizeMB = -1 }), []string{
			"TokenCache:L1SizeMB is -1: use a positive size in megabytes, or 0 for no L1"}},
		{"stale L1 without an L1", redis(func(c *Config) { c.TokenCache.WhenRedisFails = ServeStaleFromL1 }), []string{
			"TokenCache:WhenRedisFails is ServeStaleFromL1 but there is no L1 to serve from: set TokenCache:L1SizeMB, or use FailRequests"}},
		{"an unknown failure mode", redis(func(c *Config) { c.TokenCache.WhenRedisFails = "Retry" }), []string{
			`TokenCache:WhenRedisFails "Retry" is not a failure mode: use FailRequests or ServeStaleFromL1`}},
		{"a timeout that is not a duration", redis(func(c *Config) { c.TokenCache.OperationTimeout = "2" }), []string{
			`TokenCache:OperationTimeout "2" is not a duration: write a positive duration such as "2s", "500ms" or "00:00:02"`}},
		{"a negative timeout", redis(func(c *Config) { c.TokenCache.OperationTimeout = "-1s" }), []string{
			`TokenCache:OperationTimeout "-1s" is not a duration: write a positive duration such as "2s", "500ms" or "00:00:02"`}},
		{"sessions in redis without an address", func(c *Config) { c.Sessions.Store = "Redis" }, []string{
			"Sessions:RedisAddress is required when Sessions:Store is Redis: set it, or TokenCache:RedisAddress, to host:port or a redis:// URL in appsettings.json or Sessions__RedisAddress"}},
		{"sessions in redis of their own", func(c *Config) { c.Sessions = SessionsOptions{Store: "Redis", RedisAddress: "10.0.0.7:6379"} }, nil},
		{"sessions in an unknown store", func(c *Config) { c.Sessions.Store = "Memory" }, []string{
			`Sessions:Store "Memory" is not a session store: use Cookie or Redis`}},
		{"a sessions timeout that is not a duration", redis(func(c *Config) { c.Sessions = SessionsOptions{Store: "Redis", OperationTimeout: "soon"} }), []string{
			`Sessions:OperationTimeout "soon" is not a duration: write a positive duration such as "2s", "500ms" or "00:00:02"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			equal(t, "errors", errorMessages(t, err), tt.want)
			for _, k := range c.TokenCache.EncryptionKeys {
				if k != "" && err != nil && strings.Contains(err.Error(), k) {
					t.Errorf("the error shows a key: %v", err)
				}
			}
		})
	}
}

// A problem found in a file or a variable points at it, and errors.As finds the field.
func TestTokenCacheErrorsPointAtTheirSource(t *testing.T) {
	_, err := LoadConfigFrom("appsettings.json", []byte("{\n  \"TokenCache\": { \"Store\": \"Redis\", \"RedisAddress\": \"localhost:6379\" }\n}"),
		[]string{"TokenCache__EncryptionKeys__0=dG9vLXNob3J0"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "TokenCache:EncryptionKeys:0" || ce.Source != "environment variable TokenCache__EncryptionKeys__0" || ce.Err == nil {
		t.Fatalf("error %v (%+v), want one naming TokenCache:EncryptionKeys:0 and its variable, wrapping the cause", err, ce)
	}
	if strings.Contains(err.Error(), "dG9vLXNob3J0") {
		t.Errorf("the error shows the key: %v", err)
	}
}

// The sections print without their keys and without the credentials of a Redis URL.
func TestTokenCachePrintsWithoutSecrets(t *testing.T) {
	cfg := &Config{
		TokenCache: TokenCacheOptions{Store: "Redis", RedisAddress: "rediss://app:pa55word@cache:6380/0",
			EncryptionKeys: []string{testCacheKey, testCacheKeyPrev}, L1SizeMB: 64},
		Sessions: SessionsOptions{Store: "Redis", RedisAddress: "redis://:other-pa55@sessions:6379"},
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "tc", cfg.TokenCache)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%#v", cfg.TokenCache), fmt.Sprint(cfg.Sessions), logged.String()} {
		for _, secret := range []string{testCacheKey, testCacheKeyPrev, "pa55word", "other-pa55"} {
			if strings.Contains(out, secret) {
				t.Errorf("printed %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "xxxxx@") {
			t.Errorf("the address is not shown redacted:\n%s", out)
		}
	}
	if s := fmt.Sprint(cfg.TokenCache); !strings.Contains(s, "L1SizeMB:64") || !strings.Contains(s, "EncryptionKeys:[redacted]") ||
		!strings.Contains(s, "RedisAddress:rediss://xxxxx@cache:6380/0") {
		t.Errorf("TokenCache prints as %s", s)
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": DefaultStoreOperationTimeout, "2s": 2 * time.Second, " 500ms ": 500 * time.Millisecond,
		"00:00:02": 2 * time.Second, "00:01:00.25": time.Minute + 250*time.Millisecond, "1:00:00": time.Hour,
	} {
		if got, err := parseTimeout(in); err != nil || got != want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "0s", "-1s", "00:60:00", "00:00:60", "a:b:c", "1:2", "soon"} {
		if got, err := parseTimeout(in); err == nil {
			t.Errorf("parseTimeout(%q) = %v, want an error", in, got)
		}
	}
}
