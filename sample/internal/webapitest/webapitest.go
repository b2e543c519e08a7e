package webapitest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// WebAPI is the sample web API running as a program for a test.
type WebAPI struct {
	url  string
	e    *entratest.Emulator
	logs *lockedBuffer
}

// Start builds sample/webapi and runs it on a free port of 127.0.0.1, configured as the multi-tenant sample
// web API of e's default directory (AzureAd__* variables, e's CA trusted through SSL_CERT_FILE, e's Graph),
// until the test ends. It skips the test with -short: building the program takes a while.
func Start(t testing.TB, e *entratest.Emulator) *WebAPI {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs sample/webapi")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "webapi")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gin-identity/kit/sample/webapi").CombinedOutput(); err != nil {
		t.Fatalf("go build sample/webapi: %v\n%s", err, out)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, e.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	var env []string
	for _, kv := range os.Environ() {
		k := strings.ToLower(kv)
		if !strings.HasPrefix(k, "azuread__") && !strings.HasPrefix(k, "microsoftgraph__") &&
			!strings.HasPrefix(k, "downstreamapis__") && !strings.HasPrefix(k, "port=") && !strings.HasPrefix(k, "ssl_cert_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir // no appsettings.json
	cmd.Env = append(env, "PORT="+port, "SSL_CERT_FILE="+caFile, "AzureAd__Instance="+e.Instance(),
		"AzureAd__TenantId=organizations", "AzureAd__ClientId="+entratest.WebAPIClientID,
		"AzureAd__ClientSecret="+entratest.WebAPISecret, "MicrosoftGraph__BaseUrl="+e.GraphURL())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &WebAPI{url: "http://127.0.0.1:" + port + "/", e: e, logs: &lockedBuffer{}}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			w.logs.Write([]byte(sc.Text() + "\n"))
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-copied
		if t.Failed() {
			t.Logf("sample/webapi's log:\n%s", w.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(w.logs.String(), "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("sample/webapi is not listening after 30s; its log:\n%s", w.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w
}

// URL is the web API's base URL, http://127.0.0.1:PORT/: a DownstreamApis entry's BaseUrl.
func (w *WebAPI) URL() string { return w.url }

// Add adds an item to user's to-do list with a token the emulator issues for the sample web app, and
// returns the answer's body.
func (w *WebAPI) Add(t testing.TB, user, title string) string {
	t.Helper()
	claims, err := w.e.UserTokenClaims(user, entratest.WebAppClientID, entratest.WebAPIClientID, "ToDoList.ReadWrite")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := w.e.IssueToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"title":%q}`, title)
	req, err := http.NewRequest(http.MethodPost, w.url+"api/todolist", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding %q for %s: %d %s", title, user, resp.StatusCode, b)
	}
	return string(b)
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// lockedBuffer collects the program's log, written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
