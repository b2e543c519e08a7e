// Package tokencache stores token-cache partitions for token acquisition: one opaque blob per user (home
// account id), per on-behalf-of assertion, or per app and tenant, each expiring with the tokens it holds.
//
// Store is the seam: NewMemory is a bounded in-process store, rediscache.New shares the cache between the
// instances of an app, and any other store works if it passes cachetest.Run. NewEncrypted wraps any store
// so that it only ever holds AES-256-GCM ciphertext bound to its key.
//
// # Benchmarks
//
// bench_test.go measures the memory store against a floor in the same run; the command and the figures are
// in its header.
package tokencache
