package ginidentity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/gomodule/redigo/redis"
	gsessions "github.com/gorilla/sessions"
)

// maxRedisSessionBytes bounds a session record in Redis: a session's claims are at most
// maxSessionClaimsBytes, sealed and encoded.
const maxRedisSessionBytes = 16 << 10

// NewSessionStore opens the session store the Sessions section describes, for WebAppOptions.SessionStore.
// For Cookie (the default) it returns a nil store, which NewWebApp replaces with its sealed-cookie store.
// For Redis it returns gin-contrib/sessions' Redis store under Sessions:KeyPrefix, on a connection pool
// whose every dial, read and write is bounded by Sessions:OperationTimeout, so that a Redis outage costs a
// request a clean 503, never a hang; a Redis that does not answer now is an error naming its address.
//
// keys are the web app's session keys (WebAppOptions.SessionKeys, the same on every instance): the cookie
// holds only the session id, authenticated and encrypted with them, and each record in Redis is sealed with
// AES-256-GCM under a key derived from them and bound to its session id, so Redis never holds a user's
// claims in clear text. Close the returned io.Closer when the app stops. logger receives warnings about
// records that do not open; nil means slog.Default().
func NewSessionStore(ctx context.Context, cfg *Config, keys [][]byte, logger *slog.Logger) (sessions.Store, io.Closer, error) {
	if cfg == nil {
		return nil, nil, errors.New("ginidentity: NewSessionStore: the Config is nil: load it with LoadConfig")
	}
	v := &validator{sources: cfg.sources}
	v.sessions(cfg)
	if cfg.Sessions.storeName() == StoreRedis {
		if len(keys) == 0 {
			v.errs = append(v.errs, errors.New("ginidentity: NewSessionStore: no session key: pass the web app's session keys (ParseSessionKeys reads `openssl rand -base64 32`), the same on every instance"))
		}
		for i, k := range keys {
			if len(k) < minSessionKeyBytes {
				v.errs = append(v.errs, fmt.Errorf("ginidentity: NewSessionStore: session key %d is %d bytes long: use at least %d random bytes (`openssl rand -base64 32`)", i, len(k), minSessionKeyBytes))
			}
		}
	}
	if err := errors.Join(v.errs...); err != nil {
		return nil, nil, fmt.Errorf("ginidentity: NewSessionStore: %w", err)
	}
	if cfg.Sessions.storeName() == SessionsCookie {
		return nil, io.NopCloser(nil), nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	timeout := cfg.sessionsTimeout()
	addr := cfg.sessionsRedisAddress()
	pool := redisSessionPool(addr, timeout)
	fail := func(err error) (sessions.Store, io.Closer, error) {
		pool.Close()
		return nil, nil, fmt.Errorf("ginidentity: the session store (Sessions:RedisAddress): cannot reach Redis at %s within %s: %w (start Redis there, or fix the address)",
			redactURL(addr), timeout, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pool.GetContext(pingCtx)
	if err == nil {
		_, err = redis.DoContext(conn, pingCtx, "PING")
		conn.Close()
	}
	if err != nil {
		return fail(err)
	}
	pairs := make([][]byte, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, deriveKey(k, "redis session cookie hmac-sha256", 32), deriveKey(k, "redis session cookie aes-256", 32))
	}
	store, err := ginredis.NewStoreWithPool(pool, pairs...)
	if err != nil {
		return fail(err)
	}
	rs, err := ginredis.GetRedisStore(store)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	seal, err := newSealer(keys, time.Now)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	rs.SetKeyPrefix(cfg.sessionsKeyPrefix())
	rs.SetMaxLength(maxRedisSessionBytes)
	rs.SetSerializer(sealedSessionSerializer{sealer: seal, logger: logger})
	return store, pool, nil
}

// redisSessionPool dials Redis with every network wait bounded by timeout. A connection idle for more
// than a second is checked before use, so that the connections Redis dropped when it restarted fail the
// check rather than a request.
func redisSessionPool(addr string, timeout time.Duration) *redis.Pool {
	opts := []redis.DialOption{redis.DialConnectTimeout(timeout), redis.DialReadTimeout(timeout), redis.DialWriteTimeout(timeout)}
	return &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redis.Conn, error) {
			if strings.Contains(addr, "://") {
				return redis.DialURL(addr, opts...)
			}
			return redis.Dial("tcp", addr, opts...)
		},
		TestOnBorrow: func(c redis.Conn, lastUsed time.Time) error {
			if time.Since(lastUsed) < time.Second {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
}

// sealedSessionSerializer stores a session's values in Redis sealed with AES-256-GCM (see sealer) under the
// session keys, bound to the session's id: Redis sees no claim, and a record copied under another session's
// id does not open. A record that does not open is logged and read as an empty session: signed out.
type sealedSessionSerializer struct {
	sealer *sealer
	logger *slog.Logger
}

func (s sealedSessionSerializer) Serialize(ss *gsessions.Session) ([]byte, error) {
	values := make(map[string]string, len(ss.Values))
	for k, v := range ss.Values {
		ks, ok1 := k.(string)
		vs, ok2 := v.(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("ginidentity: session value %v is not a string", k)
		}
		values[ks] = vs
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(time.Duration(ss.Options.MaxAge) * time.Second)
	return []byte(s.sealer.seal(redisSessionPurpose(ss.ID), plain, expires)), nil
}

func (s sealedSessionSerializer) Deserialize(d []byte, ss *gsessions.Session) error {
	plain, err := s.sealer.open(redisSessionPurpose(ss.ID), string(d))
	var values map[string]string
	if err == nil {
		err = json.Unmarshal(plain, &values)
	}
	if err != nil {
		s.logger.Warn("ginidentity: a session record in Redis does not open (altered, moved, expired or sealed with a retired key); the user is signed out", "err", err)
		return nil
	}
	for k, v := range values {
		ss.Values[k] = v
	}
	return nil
}

func redisSessionPurpose(id string) string { return "redis session " + id }
