package rediscache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// ErrUnavailable is wrapped by the errors of operations that Redis did not complete within Options.Timeout
// (or refused): test with errors.Is. The message names the Redis address and the cause. It is also a
// tokencache.ErrUnavailable, which is what store-agnostic code tests for.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string        { return "rediscache: Redis unavailable" }
func (unavailableError) Is(target error) bool { return target == tokencache.ErrUnavailable }

// Store is a tokencache.Store in Redis, shared by every instance of an app. Each partition is one Redis
// string under Options.Prefix + key, expiring at the entry's expiresAt.
type Store struct {
	store tokencache.Store // r, or r wrapped in tokencache.Encrypted
	r     *redisStore
}

var _ tokencache.Store = (*Store)(nil)

// redisStore is the Redis access and the L1, below encryption: it stores opaque bytes.
type redisStore struct {
	client     redis.UniversalClient
	ownsClient bool
	addr       string // for messages: never holds a password
	prefix     string
	timeout    time.Duration
	l1         *tokencache.Memory // nil without L1
	mode       FailureMode
	log        *slog.Logger
	now        func() time.Time
	degraded   atomic.Bool // Redis failed since the last success: logged once each way
}

// New connects to Redis and checks that it answers within Options.Timeout; the error names the address when
// it does not. Configuration problems are all reported at once, before connecting.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	r := &redisStore{
		client:  opts.Client,
		prefix:  cmp.Or(opts.Prefix, DefaultPrefix),
		timeout: cmp.Or(opts.Timeout, DefaultTimeout),
		mode:    opts.WhenRedisFails,
		log:     opts.Logger,
		now:     time.Now,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.client == nil {
		ro, err := clientOptions(opts.Addr, r.timeout)
		if err != nil {
			return nil, err
		}
		r.client, r.ownsClient, r.addr = redis.NewClient(ro), true, ro.Addr
	} else if c, ok := opts.Client.(*redis.Client); ok {
		r.addr = c.Options().Addr
	} else {
		r.addr = "the Redis of Options.Client"
	}
	if opts.L1MaxBytes > 0 {
		l1, err := tokencache.NewMemory(tokencache.MemoryOptions{MaxEntries: math.MaxInt, MaxBytes: opts.L1MaxBytes})
		if err != nil {
			return nil, fmt.Errorf("rediscache: L1: %w", err)
		}
		r.l1 = l1
	}
	s := &Store{store: r, r: r}
	if !opts.InsecurePlaintext {
		keys := opts.EncryptionKeys
		if keys.Logger == nil {
			keys.Logger = r.log
		}
		enc, err := tokencache.NewEncrypted(r, keys)
		if err != nil {
			return nil, fmt.Errorf("rediscache: Options.EncryptionKeys: %w", err)
		}
		s.store = enc
	}
	pingCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Ping(pingCtx).Err(); err != nil {
		s.Close()
		return nil, fmt.Errorf("rediscache: cannot reach Redis at %s within %s: %w (start Redis there, or fix Options.Addr)", r.addr, r.timeout, err)
	}
	return s, nil
}

// clientOptions builds go-redis options from an address or URL, with every network wait bounded by timeout.
func clientOptions(addr string, timeout time.Duration) (*redis.Options, error) {
	ro := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if ro, err = redis.ParseURL(addr); err != nil {
			// The parser's message quotes the URL, password included: show it only with the credentials removed.
			shown := redactURL(addr)
			cause := strings.ReplaceAll(err.Error(), addr, shown)
			if shown != addr && strings.Contains(cause, addr[strings.Index(addr, "://")+3:strings.LastIndex(addr, "@")]) {
				cause = "malformed"
			}
			return nil, fmt.Errorf("rediscache: Options.Addr %s is not a valid Redis URL (redis://[user:password@]host:port[/db]): %s", shown, cause)
		}
	}
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = timeout, timeout, timeout, timeout
	ro.ContextTimeoutEnabled = true
	// Maintenance notifications are a Redis Cloud feature; probing for them elsewhere only adds log noise.
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return ro, nil
}

// redactURL replaces the credentials of a URL with xxxxx.
func redactURL(s string) string {
	i, j := strings.Index(s, "://"), strings.LastIndex(s, "@")
	if i < 0 || j < i {
		return s
	}
	return s[:i+3] + "xxxxx" + s[j:]
}

// Get returns the value stored under key, decrypted, or tokencache.ErrNotFound. A corrupt entry or one
// that does not decrypt is logged and reported as a miss.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) { return s.store.Get(ctx, key) }

// Set stores value under key until expiresAt, which is also the Redis key's expiry.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	return s.store.Set(ctx, key, value, expiresAt)
}

// Delete removes key from Redis and from this instance's L1.
func (s *Store) Delete(ctx context.Context, key string) error { return s.store.Delete(ctx, key) }

// Close releases the connections the store opened. A client passed in Options.Client is left open.
func (s *Store) Close() error {
	if s.r.ownsClient {
		return s.r.client.Close()
	}
	return nil
}

func (r *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rediscache: get: %w", err)
	}
	rkey := r.prefix + key
	var cached []byte // this instance's L1 copy of the envelope, if any
	if r.l1 != nil {
		cached, _ = r.l1.Get(ctx, key)
	}
	opCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if cached != nil {
		// One small round trip proves the copy current: Redis holds the same write (same stamp).
		stamp, err := r.client.GetRange(opCtx, rkey, stampStart, stampEnd-1).Result()
		if err != nil && !isWrongType(err) {
			return r.failed(ctx, "GETRANGE", err, cached)
		}
		r.healthy(ctx)
		switch {
		case err == nil && stamp == string(cached[stampStart:stampEnd]):
			v, _, _ := open(cached)
			return v, nil
		case err == nil && stamp == "": // deleted or expired in Redis
			r.forget(key)
			return nil, tokencache.ErrNotFound
		}
	}
	s, err := r.client.Get(opCtx, rkey).Result()
	switch {
	case err == nil:
	case errors.Is(err, redis.Nil):
		r.forget(key)
		return nil, tokencache.ErrNotFound
	case isWrongType(err):
		r.log.WarnContext(ctx, "rediscache: the Redis key holds another type of value; treating it as a miss", "key", key)
		r.forget(key)
		return nil, tokencache.ErrNotFound
	case err != nil:
		return r.failed(ctx, "GET", err, cached)
	}
	r.healthy(ctx)
	env := []byte(s)
	v, expires, ok := open(env)
	if !ok {
		r.log.WarnContext(ctx, "rediscache: the Redis entry is not in this store's format; treating it as a miss", "key", key, "bytes", len(env))
		r.forget(key)
		return nil, tokencache.ErrNotFound
	}
	if r.now().UnixNano() >= expires {
		r.forget(key)
		return nil, tokencache.ErrNotFound
	}
	if r.l1 != nil {
		_ = r.l1.Set(ctx, key, env, time.Unix(0, expires))
	}
	return v, nil
}

func (r *redisStore) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	if err := tokencache.CheckSet(key, expiresAt); err != nil {
		return err
	}
	ttl := expiresAt.Sub(r.now())
	if ttl <= 0 {
		return r.Delete(ctx, key)
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond) // Redis counts milliseconds; round up
	env := seal(value, expiresAt)
	opCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Set(opCtx, r.prefix+key, env, ttl).Err(); err != nil {
		r.forget(key)
		_, err = r.failed(ctx, "SET", err, nil)
		return err
	}
	r.healthy(ctx)
	if r.l1 != nil {
		_ = r.l1.Set(ctx, key, env, expiresAt)
	}
	return nil
}

func (r *redisStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rediscache: delete: %w", err)
	}
	r.forget(key)
	opCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Del(opCtx, r.prefix+key).Err(); err != nil {
		_, err = r.failed(ctx, "DEL", err, nil)
		return err
	}
	r.healthy(ctx)
	return nil
}

// forget drops key from L1.
func (r *redisStore) forget(key string) {
	if r.l1 != nil {
		_ = r.l1.Delete(context.Background(), key)
	}
}

// failed turns a Redis error into the caller's context error (the caller gave up), an L1 copy (when
// configured to serve one), or an error wrapping ErrUnavailable.
func (r *redisStore) failed(ctx context.Context, op string, err error, cached []byte) ([]byte, error) {
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("rediscache: %s: %w", op, cerr)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", r.timeout, err)
	}
	err = fmt.Errorf("%w: %s at %s: %w", ErrUnavailable, op, r.addr, err)
	if r.mode == ServeStaleFromL1 && cached != nil {
		if !r.degraded.Swap(true) {
			r.log.WarnContext(ctx, "rediscache: Redis is unreachable; serving entries from this instance's L1, which may be stale", "error", err)
		}
		v, _, _ := open(cached)
		return v, nil
	}
	if !r.degraded.Swap(true) {
		r.log.WarnContext(ctx, "rediscache: Redis is unreachable; token cache operations fail", "error", err)
	}
	return nil, err
}

// healthy records a successful round trip, logging the recovery after a failure.
func (r *redisStore) healthy(ctx context.Context) {
	if r.degraded.Load() && r.degraded.Swap(false) {
		r.log.InfoContext(ctx, "rediscache: Redis is reachable again", "addr", r.addr)
	}
}

func isWrongType(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "WRONGTYPE")
}
