package ginidentity_test

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/gin-identity/kit/ginidentity"
)

// A web app run on many instances keeps its users' tokens and sessions in Redis, as its TokenCache and
// Sessions sections say (here from the environment: TokenCache__RedisAddress,
// TokenCache__EncryptionKeys__0, Sessions__Store=Redis).
func ExampleNewTokenCacheStore() {
	ctx := context.Background()
	cfg, err := ginidentity.LoadConfig("appsettings.json")
	if err != nil {
		log.Fatal(err) // names each setting to fix, such as TokenCache:EncryptionKeys
	}
	sessionKeys, err := ginidentity.ParseSessionKeys(os.Getenv("SESSION_KEYS")) // the same on every instance
	if err != nil {
		log.Fatal(err)
	}
	tokens, closeTokens, err := ginidentity.NewTokenCacheStore(ctx, cfg, slog.Default())
	if err != nil {
		log.Fatal(err) // names the Redis address when it does not answer
	}
	defer closeTokens.Close()
	sessions, closeSessions, err := ginidentity.NewSessionStore(ctx, cfg, sessionKeys, slog.Default())
	if err != nil {
		log.Fatal(err)
	}
	defer closeSessions.Close()

	acquirer, err := ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{Store: tokens})
	if err != nil {
		log.Fatal(err)
	}
	app, err := ginidentity.NewWebApp(cfg, &ginidentity.WebAppOptions{
		TokenAcquirer: acquirer,
		SessionStore:  sessions, // nil for Sessions:Store Cookie: sealed cookies
		SessionKeys:   sessionKeys,
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	app.RegisterRoutes(r)
	r.GET("/profile", app.RequireSignIn(), func(c *gin.Context) {
		cl, _ := ginidentity.ClaimsFrom(c)
		c.String(200, "hello "+cl.Name())
	})
	log.Fatal(r.Run(":5000"))
}
