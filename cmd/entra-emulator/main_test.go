package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// syncBuffer collects a process's standard error while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestCommand builds the command, runs it on a free port with a fresh state directory, talks to it through
// the CA it wrote, and stops it with SIGTERM.
func TestCommand(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "entra-emulator")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	caFile := filepath.Join(tmp, "ca.pem")
	stateDir := filepath.Join(tmp, "state")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-state-dir", stateDir, "-ca-out", caFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatalf("no ready line within 30s; stderr:\n%s", stderr.String())
	}
	base, ok := strings.CutPrefix(line, "listening on ")
	if u, err := url.Parse(base); !ok || err != nil || u.Scheme != "https" || u.Port() == "0" || u.Port() == "" {
		t.Fatalf("ready line %q, want \"listening on https://HOST:PORT\"", line)
	}

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("-ca-out: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("-ca-out holds no certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/" + entratest.ContosoTenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery through the CA of -ca-out: %v", err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["issuer"] != base+"/"+entratest.ContosoTenantID+"/v2.0" {
		t.Fatalf("discovery issuer %v", doc["issuer"])
	}
	resp, err = client.PostForm(base+"/"+entratest.ContosoTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {entratest.DaemonClientID}, "client_secret": {entratest.DaemonSecret}, "scope": {entratest.WebAPIAppIDURI + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	access, _ := tok["access_token"].(string)
	if access == "" {
		t.Fatalf("token answer %v", tok)
	}

	// The command shares the state samples use: Local, pointed at the same directory and address, finds it.
	l, err := entratest.Local(context.Background(), entratest.WithStateDir(stateDir), entratest.WithLocalAddr(strings.TrimPrefix(base, "https://")))
	if err != nil || l.Started() {
		t.Fatalf("Local next to the command: started %v, %v", l != nil && l.Started(), err)
	}
	// A second command on the same address refuses to start.
	if out, err := exec.Command(bin, "-addr", strings.TrimPrefix(base, "https://"), "-state-dir", stateDir).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "already running") {
		t.Errorf("a second command on the same address: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var extra []string
	done := make(chan error, 1)
	go func() {
		for l := range lines { // read stdout to its end before Wait closes it
			extra = append(extra, l)
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
	if len(extra) > 0 {
		t.Errorf("more than one line on stdout: %q", extra)
	}
	log := stderr.String()
	if !strings.Contains(log, "POST /"+entratest.ContosoTenantID+"/oauth2/v2.0/token") {
		t.Errorf("requests are not logged:\n%s", log)
	}
	for _, secret := range []string{entratest.DaemonSecret, access, access[len(access)-20:]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a secret or a token:\n%s", log)
		}
	}

}

func TestCommandRefusesBadFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":         {"-nosuchflag"},
		"stray argument":       {"serve"},
		"missing directory":    {"-addr", "127.0.0.1:0", "-state-dir", t.TempDir(), "-directory", filepath.Join(t.TempDir(), "none.json")},
		"unusable listen addr": {"-addr", "not-an-address", "-state-dir", t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(args, &out, io.Discard); err == nil {
				t.Fatalf("run(%q) succeeded", args)
			}
			if out.Len() > 0 {
				t.Errorf("printed %q on stdout though it did not start", out.String())
			}
		})
	}
}
