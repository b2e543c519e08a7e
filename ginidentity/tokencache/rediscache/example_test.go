package rediscache_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/rediscache"
)

// A token cache shared by every instance of an app, encrypted at rest, with a 64 MB L1 per instance.
func ExampleNew() {
	ctx := context.Background()
	// A key made by `openssl rand -base64 32`; during a rotation, pass the previous one after it.
	keys, err := tokencache.ParseEncryptionKeys(os.Getenv("TOKENCACHE_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := rediscache.New(ctx, rediscache.Options{
		Addr:           "127.0.0.1:6379",
		Prefix:         "contoso-webapp:tokens:",
		EncryptionKeys: keys,
		L1MaxBytes:     64 << 20,
		WhenRedisFails: rediscache.FailRequests,
		Logger:         slog.Default(),
	})
	if err != nil {
		log.Fatal(err) // names the address when Redis does not answer
	}
	defer store.Close()

	_ = store.Set(ctx, "oid.tid", []byte("MSAL cache partition"), time.Now().Add(24*time.Hour))
	partition, err := store.Get(ctx, "oid.tid")
	log.Println(len(partition), err)
}
