package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gin-contrib/sessions"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// stores are where the web app keeps its users' tokens and sessions, as the TokenCache and Sessions
// sections say: by default this process's memory and sealed cookies; in Redis, shared by every instance.
type stores struct {
	tokenCache tokencache.Store
	sessions   sessions.Store // nil: sealed cookies
	closers    []io.Closer
}

// openStores opens the stores of the configuration; a Redis that does not answer is an error naming it.
// Sessions in Redis need SESSION_KEYS: every instance must open the same sessions.
func openStores(ctx context.Context, cfg *ginidentity.Config, sessionKeys [][]byte, logger *slog.Logger) (*stores, error) {
	st := &stores{}
	tc, closer, err := ginidentity.NewTokenCacheStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	st.tokenCache, st.closers = tc, append(st.closers, closer)
	ss, closer, err := ginidentity.NewSessionStore(ctx, cfg, sessionKeys, logger)
	if err != nil {
		st.close()
		if len(sessionKeys) == 0 {
			return nil, fmt.Errorf("SESSION_KEYS is required with sessions in Redis (every instance must open the same sessions): %w", err)
		}
		return nil, err
	}
	st.sessions, st.closers = ss, append(st.closers, closer)
	if cfg.TokenCache.RedisAddress != "" || ss != nil {
		logger.Info(fmt.Sprintf("token cache: %s; sessions: %s", cfg.TokenCache, cfg.Sessions))
	}
	return st, nil
}

func (st *stores) close() {
	for _, c := range st.closers {
		_ = c.Close()
	}
}

// newAcquirer builds the token acquirer on the configured token cache; nil (the web app's default, in
// memory) when there is none.
func newAcquirer(cfg *ginidentity.Config, o appOptions) (*ginidentity.TokenAcquirer, error) {
	if o.TokenCache == nil {
		return nil, nil
	}
	return ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: o.HTTPClient, Store: o.TokenCache, Logger: o.Logger})
}
