package ginidentity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/rediscache"
)

// NewTokenCacheStore opens the token cache the TokenCache section describes, for AcquirerOptions.Store: a
// bounded in-memory store, or a Redis store shared by every instance of the app, encrypted with
// TokenCache:EncryptionKeys, with its L1, failure mode and operation timeout. A Redis that does not answer
// within the timeout is an error naming its address. Close the returned io.Closer when the app stops.
//
// logger receives the store's warnings (entries that do not decrypt, Redis going away and coming back),
// never a token or a key; nil means slog.Default().
func NewTokenCacheStore(ctx context.Context, cfg *Config, logger *slog.Logger) (tokencache.Store, io.Closer, error) {
	if cfg == nil {
		return nil, nil, errors.New("ginidentity: NewTokenCacheStore: the Config is nil: load it with LoadConfig")
	}
	v := &validator{sources: cfg.sources}
	v.tokenCache(cfg.TokenCache)
	if err := errors.Join(v.errs...); err != nil {
		return nil, nil, fmt.Errorf("ginidentity: NewTokenCacheStore: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	t := cfg.TokenCache
	if t.storeName() == TokenCacheMemory {
		mem, err := tokencache.NewMemory(tokencache.MemoryOptions{})
		if err != nil {
			return nil, nil, err
		}
		return mem, io.NopCloser(nil), nil
	}
	timeout, _ := parseTimeout(t.OperationTimeout) // checked above
	opts := rediscache.Options{
		Addr:              t.RedisAddress,
		Prefix:            cfg.tokenCacheKeyPrefix(),
		Timeout:           timeout,
		InsecurePlaintext: t.InsecureStoreTokensInClearText,
		L1MaxBytes:        int64(t.L1SizeMB) << 20,
		Logger:            logger,
	}
	if strings.EqualFold(t.WhenRedisFails, ServeStaleFromL1) {
		opts.WhenRedisFails = rediscache.ServeStaleFromL1
	}
	if len(t.EncryptionKeys) > 0 {
		keys, err := tokencache.ParseEncryptionKeys(t.EncryptionKeys[0], t.EncryptionKeys[1:]...)
		if err != nil {
			return nil, nil, fmt.Errorf("ginidentity: TokenCache:EncryptionKeys: %w", err) // checked above
		}
		opts.EncryptionKeys = keys
	}
	if t.InsecureStoreTokensInClearText {
		logger.Warn("ginidentity: TokenCache:InsecureStoreTokensInClearText is set: Redis holds every user's tokens in clear text; set TokenCache:EncryptionKeys outside local experiments")
	}
	store, err := rediscache.New(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("ginidentity: the token cache (TokenCache:RedisAddress): %w", err)
	}
	return store, store, nil
}
