// Command webapp is a Gin web app that signs users in with Microsoft Entra ID and calls Microsoft Graph and
// the sample web API (sample/webapi) as them, with this kit:
//
//	GET  /            public: the signed-in user's name, or a sign-in link
//	GET  /profile     signed-in users: their name from Microsoft Graph (GET /me) and the claims of their ID
//	                  token that the session keeps
//	GET  /mail        signed-in users who consented to Graph's Mail.Read (asked the first time): their messages
//	GET  /todos       signed-in users: their to-do items, read from the web API with ToDoList.Read
//	GET  /todos/new   the form adding an item, once the user consented to ToDoList.ReadWrite (asked the first
//	                  time); it posts to POST /todos, which adds the item through the web API
//
// plus the sign-in routes: /auth/signin, /signin-oidc, /auth/signout and /signout-callback-oidc.
//
// It listens on PORT (default 5000) and runs in one of two modes, named by its first log line:
//
//   - Local mode, when nothing configures the AzureAd section: it signs users in with the local Entra ID
//     emulator's default directory (the emulator at https://127.0.0.1:5443, started in this process when
//     nothing answers there) as the multi-tenant app 00001111-aaaa-2222-bbbb-3333cccc4444, and listens on
//     localhost only. Open http://localhost:5000 and sign in as alice@contoso.onmicrosoft.com with the
//     password dev-password. The to-do list is the web API's at http://localhost:5001/: run
//     `go run ./sample/webapi` beside it.
//
//   - Configured mode: appsettings.json in the working directory (or the file of -config) and the
//     environment, with .NET's names: AzureAd__Instance, AzureAd__TenantId, AzureAd__ClientId,
//     AzureAd__ClientCredentials__0__SourceType, and so on. Register http://localhost:5000/signin-oidc as a
//     web redirect URI and http://localhost:5000/signout-callback-oidc as the front-channel logout URL.
//     The to-do pages call the DownstreamApis entries TodoList (BaseUrl, RelativePath, the web API's
//     ToDoList.Read scope) and TodoListWrite (the same with ToDoList.ReadWrite).
//
// Sessions are cookies sealed with SESSION_KEYS: comma-separated base64 secrets of at least 32 bytes
// (`openssl rand -base64 32`), the same on every instance. Without it, the app generates a key for the
// process and warns: sign-ins then end when it stops.
//
// To run several instances behind a load balancer, share the token cache and the sessions in Redis with the
// TokenCache and Sessions sections (see ginidentity.TokenCacheOptions): TokenCache__RedisAddress,
// TokenCache__EncryptionKeys__0 (`openssl rand -base64 32`) and Sessions__Store=Redis, with SESSION_KEYS.
//
//	go run ./sample/webapp
//	AzureAd__TenantId=contoso.onmicrosoft.com AzureAd__ClientId=<client id> \
//	AzureAd__ClientSecret=<secret> SESSION_KEYS=$(openssl rand -base64 32) go run ./sample/webapp
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

const (
	defaultPort       = "5000"
	defaultConfigPath = "appsettings.json"
)

func main() {
	configPath := flag.String("config", "", "the appsettings.json to read (default: appsettings.json in the working directory, when there is one)")
	flag.Parse()
	if os.Getenv("GIN_MODE") == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, runOptions{configPath: *configPath, port: os.Getenv("PORT"), sessionKeys: os.Getenv("SESSION_KEYS"), logOutput: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

// runOptions are the program's inputs; tests set the last two.
type runOptions struct {
	configPath  string // "" means appsettings.json when it exists
	port        string // "" means 5000
	sessionKeys string // SESSION_KEYS
	logOutput   io.Writer

	listener net.Listener            // serve here instead of on port
	local    []entratest.LocalOption // where local mode finds or starts the emulator
}

// run serves the web app until ctx ends.
func run(ctx context.Context, ro runOptions) error {
	logger := slog.New(slog.NewTextHandler(ro.logOutput, nil))
	s, err := loadSettings(ctx, ro)
	if err != nil {
		return err
	}
	defer s.close()
	logger.Info(s.mode)

	var keys [][]byte
	if ro.sessionKeys != "" {
		if keys, err = ginidentity.ParseSessionKeys(ro.sessionKeys); err != nil {
			return fmt.Errorf("SESSION_KEYS: %w", err)
		}
	}
	st, err := openStores(ctx, s.cfg, keys, logger)
	if err != nil {
		return err
	}
	defer st.close()
	router, err := newRouter(s.cfg, appOptions{HTTPClient: s.httpClient, Logger: logger, SessionKeys: keys,
		TokenCache: st.tokenCache, SessionStore: st.sessions})
	if err != nil {
		return err
	}
	ln := ro.listener
	if ln == nil {
		port := ro.port
		if port == "" {
			port = defaultPort
		}
		if ln, err = net.Listen("tcp", s.host+":"+port); err != nil {
			return fmt.Errorf("listen on port %s: %w (set PORT to another port)", port, err)
		}
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	logger.Info("listening", "url", "http://localhost:"+port)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// settings is the configuration the web app runs with and how it reaches the identity provider.
type settings struct {
	cfg        *ginidentity.Config
	httpClient *http.Client // nil: Go's default, with the system's CAs (or SSL_CERT_FILE)
	host       string       // the interface to listen on: "" for all, localhost in local mode
	mode       string       // the first log line
	close      func()
}

// loadSettings reads the configuration; when it leaves AzureAd empty, the web app runs in local mode
// against the emulator's default directory.
func loadSettings(ctx context.Context, ro runOptions) (*settings, error) {
	path := ro.configPath
	if path == "" {
		path = defaultConfigPath
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = "" // the environment only
		}
	}
	cfg, err := ginidentity.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if cfg.AzureAd.IsConfigured() {
		return &settings{cfg: cfg, close: func() {}, mode: fmt.Sprintf(
			"configured mode: signing users in with %s as client id %s", cfg.AzureAd.AuthorityURL(), cfg.AzureAd.ClientID)}, nil
	}
	l, err := entratest.Local(ctx, ro.local...)
	if err != nil {
		return nil, fmt.Errorf("local mode (no AzureAd configuration) needs the Entra ID emulator: %w", err)
	}
	cfg.AzureAd = localAzureAd(l.Instance())
	cfg.MicrosoftGraph.BaseURL = l.GraphURL()
	addLocalTodoListAPIs(cfg, localWebAPI)
	where := "shared with another process"
	if l.Started() {
		where = "started in this process"
	}
	return &settings{cfg: cfg, httpClient: l.HTTPClient(), host: "localhost", close: l.Close, mode: fmt.Sprintf(
		"local mode: signing users in with the Entra ID emulator at %s (%s) as client id %s, any tenant of its default directory; sign in as %s, password %s",
		l.URL(), where, entratest.WebAppClientID, entratest.Alice, entratest.UserPassword)}, nil
}

// localAzureAd is the AzureAd section of local mode: the emulator's sample web app, multi-tenant.
func localAzureAd(instance string) ginidentity.AzureAdOptions {
	return ginidentity.AzureAdOptions{
		Instance:     instance,
		TenantID:     "organizations", // contoso's and fabrikam's users alike
		ClientID:     entratest.WebAppClientID,
		ClientSecret: entratest.WebAppSecret,
	}
}
