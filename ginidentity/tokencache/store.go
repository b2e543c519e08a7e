package tokencache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps one opaque blob per partition key until it expires. Token acquisition stores one MSAL cache
// partition per key: a user's home account id, an on-behalf-of assertion hash, or an app and tenant.
//
// Every implementation must behave as follows; cachetest.Run checks each rule.
//   - Get returns ErrNotFound (possibly wrapped) for a key that was never set, was deleted or has expired. It
//     never returns an entry at or after its expiresAt, and never another key's value.
//   - The slices passed to Set and returned by Get belong to the caller: the store copies what it keeps, and
//     the caller may modify what it gets.
//   - Set with an expiresAt that has already passed removes the key. A zero expiresAt or an empty key is an
//     error: every entry expires with the tokens it holds.
//   - Delete of a missing key succeeds.
//   - With a context that is already canceled or past its deadline, every call returns an error wrapping
//     ctx.Err() and changes nothing.
//   - All methods are safe for concurrent use.
type Store interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key until expiresAt, replacing any previous value.
	Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	// Delete removes key.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is returned by Get when no unexpired entry exists for the key. Stores may wrap it: test with
// errors.Is.
var ErrNotFound = errors.New("tokencache: entry not found")

// ErrUnavailable is wrapped by the errors of a store that cannot reach its backend in time (a Redis that is
// down or unreachable): unlike other errors, the same call may succeed shortly. Web apps answer such a
// request with 503 Service Unavailable. Test with errors.Is.
var ErrUnavailable = errors.New("tokencache: store unavailable")

// CheckSet returns the error a Store should return from Set for an empty key or a zero expiresAt, and nil
// otherwise. Store implementations call it first so that every store rejects the same input the same way.
func CheckSet(key string, expiresAt time.Time) error {
	if key == "" {
		return errors.New("tokencache: the key is empty: use the partition key MSAL passes in its hints")
	}
	if expiresAt.IsZero() {
		return fmt.Errorf("tokencache: expiresAt is zero for key %q: every entry must expire (use the refresh token's or the session's lifetime)", key)
	}
	return nil
}
