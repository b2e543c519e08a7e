// Command webapi is the TodoList web API of Microsoft's identity samples, written with Gin and this kit. It
// accepts Microsoft Entra ID access tokens for itself and lets each route through by scope (for users,
// through a client app) or app permission (for daemons):
//
//	GET  /api/todolist   the caller's items (an app sees every item): ToDoList.Read or ToDoList.ReadWrite,
//	                     or the app permission ToDoList.Read.All or ToDoList.ReadWrite.All
//	POST /api/todolist   {"title": "..."} adds an item (201): ToDoList.ReadWrite or ToDoList.ReadWrite.All
//	GET  /api/me         {"displayName": "..."}, the caller's name from Microsoft Graph, read on behalf of the
//	                     caller (ToDoList.Read or ToDoList.ReadWrite; needs a client credential)
//
// A user sees and writes only their own items, keyed by tenant and object id.
//
// It listens on PORT (default 5001) and runs in one of two modes, named by its first log line:
//
//   - Local mode, when nothing configures the AzureAd section: it trusts the local Entra ID emulator's
//     default directory (the emulator at https://127.0.0.1:5443, started in this process when nothing answers
//     there) as the multi-tenant web API 11112222-bbbb-3333-cccc-4444dddd5555, and listens on localhost only.
//
//   - Configured mode: appsettings.json in the working directory (or the file of -config) and the
//     environment, with .NET's names: AzureAd__Instance, AzureAd__TenantId, AzureAd__ClientId, and so on.
//     Any Entra-shaped issuer works; trust a private CA with SSL_CERT_FILE. GET /api/me needs a client
//     credential (AzureAd__ClientSecret, or AzureAd:ClientCredentials) and reads the MicrosoftGraph section
//     (BaseUrl, Scopes; default https://graph.microsoft.com/v1.0 and User.Read).
//
// Run it in local mode, then against a tenant:
//
//	go run ./sample/webapi
//	AzureAd__TenantId=contoso.onmicrosoft.com AzureAd__ClientId=<client id> go run ./sample/webapi
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
	defaultPort       = "5001"
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
	err := run(ctx, runOptions{configPath: *configPath, port: os.Getenv("PORT"), logOutput: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webapi:", err)
		os.Exit(1)
	}
}

// runOptions are the program's inputs; tests set the last two.
type runOptions struct {
	configPath string // "" means appsettings.json when it exists
	port       string // "" means 5001
	logOutput  io.Writer

	listener net.Listener            // serve here instead of on port
	local    []entratest.LocalOption // where local mode finds or starts the emulator
}

// run serves the web API until ctx ends.
func run(ctx context.Context, ro runOptions) error {
	logger := slog.New(slog.NewTextHandler(ro.logOutput, nil))
	s, err := loadSettings(ctx, ro)
	if err != nil {
		return err
	}
	defer s.close()
	logger.Info(s.mode)

	tokenCache, closeCache, err := ginidentity.NewTokenCacheStore(ctx, s.cfg, logger) // the TokenCache section
	if err != nil {
		return err
	}
	defer closeCache.Close()
	router, err := newRouter(s.cfg, apiOptions{HTTPClient: s.httpClient, Logger: logger, TokenCache: tokenCache})
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
	logger.Info("listening", "url", "http://"+ln.Addr().String())
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

// settings is the configuration the web API runs with and how it reaches the identity provider.
type settings struct {
	cfg        *ginidentity.Config
	httpClient *http.Client // nil: Go's default, with the system's CAs (or SSL_CERT_FILE)
	host       string       // the interface to listen on: "" for all, localhost in local mode
	mode       string       // the first log line
	close      func()
}

// loadSettings reads the configuration; when it leaves AzureAd empty, the web API runs in local mode
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
			"configured mode: accepting tokens of %s for client id %s", cfg.AzureAd.AuthorityURL(), cfg.AzureAd.ClientID)}, nil
	}
	l, err := entratest.Local(ctx, ro.local...)
	if err != nil {
		return nil, fmt.Errorf("local mode (no AzureAd configuration) needs the Entra ID emulator: %w", err)
	}
	cfg.AzureAd = ginidentity.AzureAdOptions{
		Instance:     l.Instance(),
		TenantID:     "organizations", // the sample web API is multi-tenant: contoso's and fabrikam's users alike
		ClientID:     entratest.WebAPIClientID,
		ClientSecret: entratest.WebAPISecret,
	}
	cfg.MicrosoftGraph.BaseURL = l.GraphURL()
	where := "shared with another process"
	if l.Started() {
		where = "started in this process"
	}
	return &settings{cfg: cfg, httpClient: l.HTTPClient(), host: "localhost", close: l.Close, mode: fmt.Sprintf(
		"local mode: accepting tokens of the Entra ID emulator at %s (%s) for client id %s, any tenant of its default directory",
		l.URL(), where, entratest.WebAPIClientID)}, nil
}
