package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
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

func TestPrintRoles(t *testing.T) {
	e := entratest.Start(t)
	var out bytes.Buffer
	if err := printRoles(testContext(t), daemonConfig(e, entratest.DaemonSecret), e.HTTPClient(), defaultScope, &out, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"roles: ToDoList.Read.All\n", "audience " + entratest.WebAPIClientID, "from tenant " + entratest.ContosoTenantID} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	out.Reset()
	if err := printRoles(testContext(t), daemonConfig(e, entratest.DaemonSecret), e.HTTPClient(), "https://graph.microsoft.com/.default", &out, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil || !strings.Contains(out.String(), "roles: User.Read.All\n") {
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
			err := printRoles(testContext(t), c.cfg, e.HTTPClient(), c.scope, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
		err := printRoles(ctx, daemonConfig(down, entratest.DaemonSecret), hc, defaultScope, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want a connection error before the deadline", err)
		}
	})
}

// TestLocalMode runs the program's logic with no configuration: it starts an emulator of its own (on a free
// port, with a fresh state directory) and prints the daemon's roles.
func TestLocalMode(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(strings.ToLower(k), "azuread__") {
			t.Setenv(k, "")
		}
	}
	t.Chdir(t.TempDir()) // no appsettings.json
	var out, logs bytes.Buffer
	err := run(testContext(t), runOptions{out: &out, logOutput: &logs,
		local: []entratest.LocalOption{entratest.WithLocalAddr("127.0.0.1:0"), entratest.WithStateDir(t.TempDir())}})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.Contains(first, "local mode") || !strings.Contains(first, entratest.DaemonClientID) || !strings.Contains(first, "started in this process") {
		t.Errorf("first log line %q", first)
	}
	if !strings.Contains(out.String(), "roles: ToDoList.Read.All") {
		t.Errorf("output %q", out.String())
	}
}

// TestProgram builds the program and runs it configured through appsettings.json and AzureAd__* variables
// against the test's emulator, trusted through SSL_CERT_FILE: once with the right secret, once with a wrong
// one.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	e := entratest.Start(t)
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
  "DownstreamApis": { "TodoList": { "BaseUrl": "https://localhost:44351/api", "Scopes": [ "` + entratest.WebAPIAppIDURI + `/.default" ] } }
}`
	if err := os.WriteFile(filepath.Join(dir, "appsettings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k := strings.ToLower(kv); !strings.HasPrefix(k, "azuread__") && !strings.HasPrefix(k, "ssl_cert_") {
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
	if !strings.Contains(stdout, "roles: ToDoList.Read.All") {
		t.Errorf("stdout %q", stdout)
	}

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
