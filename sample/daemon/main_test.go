package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/sample/internal/webapitest"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// daemonConfig configures the default directory's daemon against the test's emulator.
func daemonConfig(e *entratest.Emulator, secret string) *ginidentity.Config {
	return &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoDomain,
		ClientID: entratest.DaemonClientID, ClientSecret: secret}}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// roles prints the roles of an app token for scope, as the program does, with a new acquirer.
func roles(t *testing.T, ctx context.Context, cfg *ginidentity.Config, hc *http.Client, scope string, out io.Writer) error {
	acq, err := newAcquirer(cfg, hc, discardLogger())
	if err != nil {
		return err
	}
	return printRoles(ctx, acq, scope, out)
}

func TestPrintRoles(t *testing.T) {
	e := entratest.Start(t)
	var out bytes.Buffer
	if err := roles(t, testContext(t), daemonConfig(e, entratest.DaemonSecret), e.HTTPClient(), defaultScope, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"roles: ToDoList.Read.All\n", "audience " + entratest.WebAPIClientID, "from tenant " + entratest.ContosoTenantID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	out.Reset()
	if err := roles(t, testContext(t), daemonConfig(e, entratest.DaemonSecret), e.HTTPClient(), "https://graph.microsoft.com/.default", &out); err != nil || !strings.Contains(out.String(), "roles: User.Read.All\n") {
		t.Errorf("Graph: %v, %q", err, out.String())
	}
}

func TestPrintRolesFailures(t *testing.T) {
	e := entratest.Start(t)
	webApp := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoTenantID,
		ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret}}
	for _, c := range []struct {
		name  string
		cfg   *ginidentity.Config
		scope string
		want  []string
	}{
		{"wrong secret", daemonConfig(e, "wrong-secret"), defaultScope, []string{"AADSTS7000215", "AzureAd:ClientSecret", "Certificates & secrets"}},
		{"no credential", daemonConfig(e, ""), defaultScope, []string{"AzureAd:ClientCredentials"}},
		{"no roles granted", webApp, defaultScope, []string{"carries no roles", "grant admin consent"}},
		{"not a .default scope", daemonConfig(e, entratest.DaemonSecret), entratest.WebAPIAppIDURI + "/ToDoList.Read", []string{"/.default"}},
		{"unknown resource", daemonConfig(e, entratest.DaemonSecret), "api://unknown/.default", []string{"AADSTS500011"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := roles(t, testContext(t), c.cfg, e.HTTPClient(), c.scope, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Error("the error shows the secret")
			}
		})
	}
	t.Run("emulator down", func(t *testing.T) {
		down := entratest.Start(t)
		hc := down.HTTPClient()
		down.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := roles(t, ctx, daemonConfig(down, entratest.DaemonSecret), hc, defaultScope, io.Discard)
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want a connection error before the deadline", err)
		}
	})
}

// clearConfigEnv removes the configuration the environment may hold, for the test.
func clearConfigEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "azuread__") || strings.HasPrefix(lk, "downstreamapis__") || strings.HasPrefix(lk, "microsoftgraph__") {
			t.Setenv(k, "")
		}
	}
	t.Chdir(t.TempDir()) // no appsettings.json
}

// setTodoListEnv configures DownstreamApis:TodoList, the sample web API at baseURL, in the environment.
func setTodoListEnv(t *testing.T, baseURL string) {
	t.Setenv("DownstreamApis__TodoList__BaseUrl", baseURL)
	t.Setenv("DownstreamApis__TodoList__RelativePath", "api/todolist")
	t.Setenv("DownstreamApis__TodoList__Scopes__0", defaultScope)
}

// addItems adds alice's and bob's items to the web API.
func addItems(t *testing.T, api *webapitest.WebAPI) {
	api.Add(t, entratest.Alice, "Buy milk")
	api.Add(t, entratest.Bob, "Walk the dog")
}

// wantLists checks that the output lists alice's and bob's items and contoso's users.
func wantLists(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"roles: ToDoList.Read.All\n", "to-do items of every user (2):", "Buy milk", "Walk the dog",
		"users from Microsoft Graph (2):", "Alice Smith", entratest.Alice, "Bob Jones", entratest.Bob} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Carol Lee") {
		t.Errorf("output lists carol of fabrikam:\n%s", out)
	}
}

// TestLocalMode runs the program's logic with no configuration but the web API's address: it uses the
// emulator of the shared state directory (here one the test started on a free port, which the web API, a
// program, trusts too) and prints the daemon's roles, every user's items and contoso's users.
func TestLocalMode(t *testing.T) {
	clearConfigEnv(t)
	stateDir := t.TempDir()
	shared, err := entratest.Local(context.Background(), entratest.WithLocalAddr("127.0.0.1:0"), entratest.WithStateDir(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	e := shared.Emulator()
	api := webapitest.Start(t, e)
	addItems(t, api)
	setTodoListEnv(t, api.URL())

	var out, logs bytes.Buffer
	err = run(testContext(t), runOptions{out: &out, logOutput: &logs,
		local: []entratest.LocalOption{entratest.WithLocalAddr(strings.TrimPrefix(e.URL(), "https://")), entratest.WithStateDir(stateDir)}})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "local mode") || !strings.Contains(first, entratest.DaemonClientID) || !strings.Contains(first, "shared with another process") {
		t.Errorf("first log line %q", first)
	}
	wantLists(t, out.String())
}

// With no configuration at all the program starts the emulator itself; with the web API down it prints the
// roles, then says to start the web API.
func TestLocalModeWebAPIDown(t *testing.T) {
	clearConfigEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	setTodoListEnv(t, "http://"+ln.Addr().String()+"/")
	var out, logs bytes.Buffer
	err = run(testContext(t), runOptions{out: &out, logOutput: &logs,
		local: []entratest.LocalOption{entratest.WithLocalAddr("127.0.0.1:0"), entratest.WithStateDir(t.TempDir())}})
	if err == nil || !strings.Contains(err.Error(), "start it: `go run ./sample/webapi`") {
		t.Errorf("run: %v, want it to say to start the web API", err)
	}
	if first, _, _ := strings.Cut(logs.String(), "\n"); !strings.Contains(first, "local mode") || !strings.Contains(first, "started in this process") {
		t.Errorf("first log line %q", first)
	}
	if !strings.Contains(out.String(), "roles: ToDoList.Read.All") {
		t.Errorf("output %q", out.String())
	}
}

// The web API's and Graph's refusals name the permission to grant.
func TestListsForbidden(t *testing.T) {
	e := entratest.Start(t)
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(forbidden.Close)
	cfg := daemonConfig(e, entratest.DaemonSecret)
	cfg.DownstreamApis = map[string]ginidentity.DownstreamAPIOptions{todoList: {BaseURL: forbidden.URL, Scopes: []string{defaultScope}}}
	acq, err := newAcquirer(cfg, e.HTTPClient(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := printTodos(testContext(t), cfg, acq, e.HTTPClient(), io.Discard); err == nil || !strings.Contains(err.Error(), "ToDoList.Read.All (admin consent)") {
		t.Errorf("printTodos: %v", err)
	}

	// The web app, as an app, has no Graph role.
	webApp := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{Instance: e.Instance(), TenantID: entratest.ContosoTenantID,
		ClientID: entratest.WebAppClientID, ClientSecret: entratest.WebAppSecret},
		MicrosoftGraph: ginidentity.MicrosoftGraphOptions{BaseURL: e.GraphURL()}}
	if acq, err = newAcquirer(webApp, e.HTTPClient(), discardLogger()); err != nil {
		t.Fatal(err)
	}
	if err := printUsers(testContext(t), webApp, acq, e.HTTPClient(), io.Discard); err == nil || !strings.Contains(err.Error(), "User.Read.All (admin consent)") {
		t.Errorf("printUsers: %v", err)
	}
}

// TestProgram builds the program and runs it configured through appsettings.json and AzureAd__* variables
// against the test's emulator, trusted through SSL_CERT_FILE, and the web API (a program too): once with the
// right secret, once with a wrong one.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	e := entratest.Start(t)
	api := webapitest.Start(t, e)
	addItems(t, api)
	dir := t.TempDir()
	bin := filepath.Join(dir, "daemon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, e.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := `{
  "AzureAd": { "Instance": "` + e.Instance() + `", "TenantId": "` + entratest.ContosoTenantID + `", "ClientId": "` + entratest.DaemonClientID + `" },
  "DownstreamApis": { "TodoList": { "BaseUrl": "` + api.URL() + `", "RelativePath": "api/todolist", "Scopes": [ "` + entratest.WebAPIAppIDURI + `/.default" ] } },
  "MicrosoftGraph": { "BaseUrl": "` + e.GraphURL() + `" }
}`
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k := strings.ToLower(kv); !strings.HasPrefix(k, "azuread__") && !strings.HasPrefix(k, "downstreamapis__") &&
			!strings.HasPrefix(k, "microsoftgraph__") && !strings.HasPrefix(k, "ssl_cert_") {
			env = append(env, kv)
		}
	}
	runBin := func(secret string) (stdout, stderr string, err error) {
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = append(env, "SSL_CERT_FILE="+caFile, "AzureAd__ClientSecret="+secret)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}

	stdout, stderr, err := runBin(entratest.DaemonSecret)
	if err != nil {
		t.Fatalf("daemon: %v\n%s", err, stderr)
	}
	first, _, _ := strings.Cut(stderr, "\n")
	if !strings.Contains(first, "configured mode") || !strings.Contains(first, e.Authority(entratest.ContosoTenantID)) {
		t.Errorf("first log line %q", first)
	}
	wantLists(t, stdout)

	stdout, stderr, err = runBin("wrong-secret")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("with a wrong secret: %v, want exit status 1", err)
	}
	if !strings.Contains(stderr, "daemon: ") || !strings.Contains(stderr, "AADSTS7000215") || strings.Contains(stderr+stdout, "wrong-secret") {
		t.Errorf("stderr %q", stderr)
	}
	if strings.Contains(stderr+stdout, "eyJ") {
		t.Error("the output holds a token")
	}
}
