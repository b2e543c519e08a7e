package rediscache

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// Defaults of Options.
const (
	DefaultPrefix  = "ginidentity:tokencache:"
	DefaultTimeout = 2 * time.Second
)

// FailureMode says what Get does when Redis cannot be reached within Options.Timeout.
type FailureMode int

const (
	// FailRequests returns an error wrapping ErrUnavailable. The default: a token is never served from a copy
	// that Redis may have replaced or deleted since.
	FailRequests FailureMode = iota
	// ServeStaleFromL1 serves the L1 copy of an entry, if this instance holds one, and logs a warning when
	// Redis becomes unreachable. The copy may be stale: tokens deleted by a sign-out on another instance
	// remain usable here until Redis is back. Requires Options.L1MaxBytes.
	ServeStaleFromL1
)

// Options configures New. Addr (or Client) and either EncryptionKeys or InsecurePlaintext are required.
type Options struct {
	// Addr is the Redis server: host:port, or a redis:// or rediss:// URL with credentials and database.
	Addr string
	// Client is an existing go-redis client (cluster, sentinel, custom TLS) to use instead of Addr. The store
	// does not close it. Set ContextTimeoutEnabled on it so that Timeout also bounds network waits.
	Client redis.UniversalClient

	// Prefix starts every key the store writes; DefaultPrefix when empty. Give each app its own.
	Prefix string
	// Timeout bounds every Redis operation, the initial ping included; DefaultTimeout when zero.
	Timeout time.Duration

	// EncryptionKeys encrypt every entry with AES-256-GCM before it reaches Redis (see
	// tokencache.NewEncrypted); EncryptionKeys.Logger defaults to Logger.
	EncryptionKeys tokencache.EncryptionKeys
	// InsecurePlaintext stores tokens in Redis in clear text, readable by anyone who can read Redis or its
	// backups. Only for tests and local development; it cannot be combined with EncryptionKeys.
	InsecurePlaintext bool

	// L1MaxBytes, when positive, keeps an in-process copy of recent entries (still encrypted) bounded to
	// this many bytes. An L1 copy is served only after Redis confirms it is still the current version, so a
	// write or sign-out on another instance is never hidden; it saves transferring the entry, and lets
	// ServeStaleFromL1 answer while Redis is down.
	L1MaxBytes int64
	// WhenRedisFails chooses between failing and serving L1 copies; FailRequests by default.
	WhenRedisFails FailureMode

	// Logger receives warnings: entries that are corrupt or do not decrypt, Redis becoming unreachable
	// (with ServeStaleFromL1) and reachable again. Nil discards them. Tokens are never logged.
	Logger *slog.Logger
}

// check returns every configuration problem at once, each naming the option that fixes it.
func (o *Options) check() error {
	var errs []error
	switch {
	case o.Addr == "" && o.Client == nil:
		errs = append(errs, errors.New("rediscache: Options.Addr is empty: set the Redis address (host:port, e.g. 127.0.0.1:6379, or a redis:// URL), or pass Options.Client"))
	case o.Addr != "" && o.Client != nil:
		errs = append(errs, errors.New("rediscache: both Options.Addr and Options.Client are set: keep one"))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("rediscache: Options.Timeout is %s: use a positive duration, or 0 for %s", o.Timeout, DefaultTimeout))
	}
	if o.L1MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("rediscache: Options.L1MaxBytes is %d: use a positive size, or 0 for no L1", o.L1MaxBytes))
	}
	switch o.WhenRedisFails {
	case FailRequests:
	case ServeStaleFromL1:
		if o.L1MaxBytes <= 0 {
			errs = append(errs, errors.New("rediscache: Options.WhenRedisFails is ServeStaleFromL1 but there is no L1: set Options.L1MaxBytes"))
		}
	default:
		errs = append(errs, fmt.Errorf("rediscache: Options.WhenRedisFails is %d: use FailRequests or ServeStaleFromL1", o.WhenRedisFails))
	}
	hasKeys := len(o.EncryptionKeys.Current) > 0 || len(o.EncryptionKeys.Previous) > 0
	switch {
	case !hasKeys && !o.InsecurePlaintext:
		errs = append(errs, errors.New("rediscache: Options.EncryptionKeys is empty: set a 32-byte key (tokencache.ParseEncryptionKeys reads `openssl rand -base64 32`) so that Redis never holds tokens in clear text"))
	case hasKeys && o.InsecurePlaintext:
		errs = append(errs, errors.New("rediscache: Options.InsecurePlaintext is set together with Options.EncryptionKeys: remove InsecurePlaintext"))
	}
	return errors.Join(errs...)
}
