package tokencache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

func ExampleNewMemory() {
	ctx := context.Background()
	store, err := tokencache.NewMemory(tokencache.MemoryOptions{MaxEntries: 10_000, MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	// Token acquisition keeps one partition per user, keyed by the home account id.
	err = store.Set(ctx, "oid.tid", []byte(`{"AccessToken":{}}`), time.Now().Add(24*time.Hour))
	if err != nil {
		panic(err)
	}
	v, err := store.Get(ctx, "oid.tid")
	fmt.Println(string(v), err)

	_, err = store.Get(ctx, "someone-else")
	fmt.Println(errors.Is(err, tokencache.ErrNotFound))
	// Output:
	// {"AccessToken":{}} <nil>
	// true
}

func ExampleNewEncrypted() {
	ctx := context.Background()
	// In production the key comes from configuration or a secret store, e.g. `openssl rand -base64 32`.
	keys, err := tokencache.ParseEncryptionKeys("q2Pn1ts7z5m1+YDOaJCmu7uNdH8Hl0ZLxo0+tvOQzS8=")
	if err != nil {
		panic(err)
	}
	inner, _ := tokencache.NewMemory(tokencache.MemoryOptions{})
	store, err := tokencache.NewEncrypted(inner, keys)
	if err != nil {
		panic(err)
	}
	expires := time.Now().Add(time.Hour)
	_ = store.Set(ctx, "alice-oid.tid", []byte("alice's tokens"), expires)

	v, _ := store.Get(ctx, "alice-oid.tid")
	fmt.Println(string(v))

	// The inner store holds ciphertext bound to the key: moved under another user's key, it does not decrypt.
	blob, _ := inner.Get(ctx, "alice-oid.tid")
	_ = inner.Set(ctx, "mallory-oid.tid", blob, expires)
	_, err = store.Get(ctx, "mallory-oid.tid")
	fmt.Println(errors.Is(err, tokencache.ErrNotFound))
	// Output:
	// alice's tokens
	// true
}
