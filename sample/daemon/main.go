// Command daemon is a daemon (a console app with no user) of Microsoft's identity samples, written with this
// kit. As the app itself (client credentials), it gets an app token for the TodoList web API and prints the
// app roles (application permissions) Microsoft Entra ID granted it, then lists every to-do item of the web
// API (sample/webapi) through gindownstream and the users of its tenant from Microsoft Graph through
// gingraph. It exits with status 1 and a message saying what to fix when it cannot.
//
// It runs in one of two modes, named by its first log line (on stderr):
//
//   - Local mode, when nothing configures the AzureAd section: it is the daemon of the local Entra ID
//     emulator's default directory (client id 22223333-cccc-4444-dddd-5555eeee6666 in tenant contoso, with
//     its development secret), against the emulator at https://127.0.0.1:5443, started in this process when
//     nothing answers there. The emulator grants it ToDoList.Read.All and Graph's User.Read.All. The web API
//     is the one `go run ./sample/webapi` serves at http://localhost:5001/, unless a DownstreamApis:TodoList
//     entry names another.
//
//   - Configured mode: appsettings.json in the working directory (or the file of -config) and the
//     environment, with .NET's names: AzureAd__Instance, AzureAd__TenantId, AzureAd__ClientId and a client
//     credential (AzureAd__ClientSecret, or AzureAd:ClientCredentials: secrets, certificates, a workload
//     identity's token file). The web API is DownstreamApis:TodoList (BaseUrl, RelativePath, and Scopes: its
//     App ID URI with /.default); Microsoft Graph is the MicrosoftGraph section's BaseUrl (default
//     https://graph.microsoft.com/v1.0). The roles printed are those of -scope's token, else of
//     DownstreamApis:TodoList's, else of the sample web API's api://11112222-bbbb-3333-cccc-4444dddd5555/.default.
//
// Run it in local mode, then against a tenant:
//
//	go run ./sample/daemon
//	AzureAd__TenantId=contoso.onmicrosoft.com AzureAd__ClientId=<client id> AzureAd__ClientSecret=<secret> \
//	DownstreamApis__TodoList__BaseUrl=https://<web API host>/ DownstreamApis__TodoList__RelativePath=api/todolist \
//	DownstreamApis__TodoList__Scopes__0=api://<web API client id>/.default go run ./sample/daemon
//
// The roles it prints come from the token's payload, decoded for display: the web API validates the token.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

const (
	defaultConfigPath = "appsettings.json"
	// defaultScope is the sample web API's app token scope.
	defaultScope = entratest.WebAPIAppIDURI + "/.default"
	// timeout bounds the whole run: discovery, the tokens, the web API and Graph.
	timeout = time.Minute
)

func main() {
	configPath := flag.String("config", "", "the appsettings.json to read (default: appsettings.json in the working directory, when there is one)")
	scope := flag.String("scope", "", "the app token's scope, {resource}/.default (default: DownstreamApis:TodoList's, else "+defaultScope+")")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := run(ctx, runOptions{configPath: *configPath, scope: *scope, out: os.Stdout, logOutput: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		os.Exit(1)
	}
}

// runOptions are the program's inputs; tests set local.
type runOptions struct {
	configPath string // "" means appsettings.json when it exists
	scope      string // "" means DownstreamApis:TodoList's first scope, else defaultScope
	out        io.Writer
	logOutput  io.Writer
	local      []entratest.LocalOption // where local mode finds or starts the emulator
}

// run loads the configuration, says which mode it runs in, and prints the roles of an app token, the web
// API's items and the tenant's users.
func run(ctx context.Context, ro runOptions) error {
	logger := slog.New(slog.NewTextHandler(ro.logOutput, nil))
	cfg, hc, mode, closeEmulator, err := loadSettings(ctx, ro.configPath, ro.local)
	if err != nil {
		return err
	}
	defer closeEmulator()
	logger.Info(mode)
	scope := ro.scope
	if scope == "" {
		scope = defaultScope
		if api, ok := cfg.DownstreamAPI("TodoList"); ok && len(api.Scopes) > 0 {
			scope = api.Scopes[0]
		}
	}
	acq, err := newAcquirer(cfg, hc, logger)
	if err != nil {
		return err
	}
	if err := printRoles(ctx, acq, scope, ro.out); err != nil {
		return err
	}
	if err := printTodos(ctx, cfg, acq, hc, ro.out); err != nil {
		return err
	}
	return printUsers(ctx, cfg, acq, hc, ro.out)
}

// loadSettings reads the configuration; when it leaves AzureAd empty, the daemon runs in local mode as the
// emulator's default directory's daemon.
func loadSettings(ctx context.Context, path string, local []entratest.LocalOption) (cfg *ginidentity.Config, hc *http.Client, mode string, closeEmulator func(), err error) {
	if path == "" {
		path = defaultConfigPath
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = "" // the environment only
		}
	}
	if cfg, err = ginidentity.LoadConfig(path); err != nil {
		return nil, nil, "", nil, err
	}
	if cfg.AzureAd.IsConfigured() {
		return cfg, nil, fmt.Sprintf("configured mode: app %s of %s", cfg.AzureAd.ClientID, cfg.AzureAd.AuthorityURL()), func() {}, nil
	}
	l, err := entratest.Local(ctx, local...)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("local mode (no AzureAd configuration) needs the Entra ID emulator: %w", err)
	}
	cfg.AzureAd = ginidentity.AzureAdOptions{Instance: l.Instance(), TenantID: entratest.ContosoTenantID,
		ClientID: entratest.DaemonClientID, ClientSecret: entratest.DaemonSecret}
	cfg.MicrosoftGraph.BaseURL = l.GraphURL()
	addLocalTodoListAPI(cfg)
	where := "shared with another process"
	if l.Started() {
		where = "started in this process"
	}
	return cfg, l.HTTPClient(), fmt.Sprintf("local mode: app %s of tenant contoso on the Entra ID emulator at %s (%s)",
		entratest.DaemonClientID, l.URL(), where), l.Close, nil
}

// newAcquirer checks the configuration as a daemon's and returns the acquirer of its app tokens, which
// reaches the identity provider through hc (nil: Go's default client, trusting the system's CAs or
// SSL_CERT_FILE).
func newAcquirer(cfg *ginidentity.Config, hc *http.Client, logger *slog.Logger) (*ginidentity.TokenAcquirer, error) {
	if err := cfg.ValidateDaemon(); err != nil {
		return nil, err
	}
	return ginidentity.NewTokenAcquirer(cfg, &ginidentity.AcquirerOptions{HTTPClient: hc, Logger: logger})
}

// printRoles gets an app token for scope and prints the roles granted in it. A token without roles is an
// error: the web API would refuse it.
func printRoles(ctx context.Context, acq *ginidentity.TokenAcquirer, scope string, out io.Writer) error {
	tok, err := acq.TokenForApp(ctx, scope)
	if err != nil {
		return err
	}
	claims, err := payload(tok.AccessToken)
	if err != nil {
		return fmt.Errorf("the token for %s cannot be displayed: %w", scope, err)
	}
	var roles []string
	if rs, ok := claims["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
	}
	aud, _ := claims["aud"].(string)
	tid, _ := claims["tid"].(string)
	fmt.Fprintf(out, "app token for %s (audience %s) from tenant %s, expires %s\n", scope, aud, tid, tok.ExpiresOn.Format(time.RFC3339))
	if len(roles) == 0 {
		return fmt.Errorf("the token for %s carries no roles: on the app registration's API permissions page, add an application permission of the API and grant admin consent", scope)
	}
	fmt.Fprintf(out, "roles: %s\n", strings.Join(roles, ", "))
	return nil
}

// payload decodes a JWT's claims for display. It does not validate the token: its audience does that.
func payload(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("it is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("its payload is not base64url: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("its payload is not JSON: %w", err)
	}
	return claims, nil
}
