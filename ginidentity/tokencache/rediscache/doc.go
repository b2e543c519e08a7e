// Package rediscache is a tokencache.Store in Redis (github.com/redis/go-redis/v9), for apps that run on
// more than one instance: a user signed in through one instance has their tokens on every other.
//
// Each partition is one Redis string, Options.Prefix + key, whose Redis expiry is the entry's expiresAt:
// token acquisition passes the refresh token's (or the session's) lifetime, never less than the access
// token's, so Redis neither drops a usable entry nor keeps a dead one.
// Entries are encrypted with AES-256-GCM before they leave the process, bound to their key (see
// tokencache.NewEncrypted); storing clear text takes Options.InsecurePlaintext. Every operation is bounded
// by Options.Timeout: a Redis that is down or unreachable costs a request an error wrapping ErrUnavailable,
// never a hang, and the store reconnects by itself when Redis is back.
//
// # The L1 and consistency between instances
//
// With Options.L1MaxBytes each instance keeps copies of recent entries in memory. Every write stamps its
// entry with a random version; a Get on an L1 copy asks Redis only for the 8-byte stamp (GETRANGE) and serves
// the copy when it matches, or fetches the entry when another instance has written since. A write or a
// sign-out on one instance is therefore never hidden by another instance's L1, including after missed
// messages or a Redis restart: invalidation by pub/sub (or Redis's client-side caching) would leave a window
// in which a deleted user's tokens are still served. The cost is one small round trip per hit.
//
// With WhenRedisFails: ServeStaleFromL1, a Get that cannot reach Redis serves this instance's L1 copy, if
// any, and logs once that it does; writes and deletes still fail, and normal service resumes with the first
// successful round trip.
//
// # Corrupt entries
//
// An entry that is not in this store's format, is of another Redis type, or does not decrypt under its key
// is logged through Options.Logger and reported as tokencache.ErrNotFound; the next write replaces it.
package rediscache
