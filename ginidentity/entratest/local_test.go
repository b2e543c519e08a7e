package entratest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// freeAddr returns a loopback address with a port nothing listens on at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func local(t *testing.T, opts ...entratest.LocalOption) *entratest.LocalEmulator {
	t.Helper()
	l, err := entratest.Local(context.Background(), opts...)
	if err != nil {
		t.Fatalf("Local: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

func jwksKids(t *testing.T, c *http.Client, authority string) []string {
	t.Helper()
	set, err := jwk.Fetch(context.Background(), authority+"/discovery/v2.0/keys", jwk.WithHTTPClient(c))
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		kids = append(kids, k.KeyID())
	}
	return kids
}

func TestLocalStartsOnceAndSharesIt(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	first := local(t, entratest.WithStateDir(dir), entratest.WithLocalAddr(addr))
	if !first.Started() || first.Emulator() == nil || first.URL() != "https://"+addr {
		t.Fatalf("first Local: started %v, URL %s", first.Started(), first.URL())
	}
	second := local(t, entratest.WithStateDir(dir), entratest.WithLocalAddr(addr))
	if second.Started() || second.Emulator() != nil || second.URL() != first.URL() {
		t.Fatalf("second Local did not find the running emulator: started %v, URL %s", second.Started(), second.URL())
	}
	if !bytes.Equal(first.CACertPEM(), second.CACertPEM()) || first.IdentityHeader() != second.IdentityHeader() {
		t.Fatal("the two processes' views disagree on the CA or the identity header")
	}
	// The second process trusts the running emulator through the CA of the state directory alone, and gets a
	// token it can validate.
	form := ccForm(entratest.DaemonClientID, entratest.DaemonSecret, entratest.WebAPIAppIDURI+"/.default")
	status, body := postTokenWith(t, second.HTTPClient(), second.Authority(entratest.ContosoTenantID)+"/oauth2/v2.0/token", form, nil)
	if status != http.StatusOK {
		t.Fatalf("token through the shared emulator: %d %v", status, body)
	}
	v := newVerifier(t, first.Emulator(), nil)
	v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, second.URL()+"/"+entratest.ContosoTenantID+"/v2.0")

	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr(addr), entratest.WithoutSharing()); !errors.Is(err, entratest.ErrAlreadyRunning) {
		t.Errorf("WithoutSharing with an emulator running: %v, want ErrAlreadyRunning", err)
	}

	// Stopped and started again (here on another port), the emulator keeps its CA and its signing key's kid.
	kids := jwksKids(t, first.HTTPClient(), first.Authority("common"))
	first.Close()
	again := local(t, entratest.WithStateDir(dir), entratest.WithLocalAddr(freeAddr(t)))
	if !again.Started() || !bytes.Equal(again.CACertPEM(), first.CACertPEM()) {
		t.Fatal("a restart did not reuse the CA of the state directory")
	}
	if got := jwksKids(t, again.HTTPClient(), again.Authority("common")); len(got) != 1 || got[0] != kids[0] {
		t.Errorf("kid after restart %v, before %v", got, kids)
	}
}

func TestLocalStateIsPrivateAndCreatedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	// Processes starting at once: each creates the state if it finds none, and all must end up with the same.
	var wg sync.WaitGroup
	pems := make([][]byte, 4)
	for i := range pems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr("127.0.0.1:0"))
			if err != nil {
				t.Error(err)
				return
			}
			defer l.Close()
			pems[i] = l.CACertPEM()
		}()
	}
	wg.Wait()
	for i := range pems {
		if !bytes.Equal(pems[i], pems[0]) {
			t.Fatal("concurrent first starts created different CAs")
		}
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("state directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(files) != 1 || len(hidden) != 0 {
		t.Fatalf("state directory holds %v %v, want one file and no temporary leftovers", files, hidden)
	}
	if info, err := os.Stat(files[0]); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}

	if err := os.Chmod(files[0], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr("127.0.0.1:0")); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a state file readable by others: %v, want an error telling to chmod it", err)
	}
	if err := os.Chmod(files[0], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(files[0], info.ModTime().Add(-time.Minute), info.ModTime().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr("127.0.0.1:0")); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("a corrupt state file: %v, want an error telling to delete it", err)
	}
}

func TestLocalStateDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(entratest.StateDirEnv, dir)
	if got, err := entratest.DefaultStateDir(); err != nil || got != dir {
		t.Fatalf("DefaultStateDir = %q, %v", got, err)
	}
	local(t, entratest.WithLocalAddr("127.0.0.1:0"))
	if _, err := os.Stat(filepath.Join(dir, "emulator-state.pem")); err != nil {
		t.Fatalf("no state in %s: %v", entratest.StateDirEnv, err)
	}
}

func TestLocalRefusesAnImpostor(t *testing.T) {
	dir := t.TempDir()
	// A TLS server under another CA at the address: not ours, and never trusted.
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	other.Config.ErrorLog = log.New(io.Discard, "", 0)
	other.StartTLS()
	defer other.Close()
	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr(other.Listener.Addr().String())); err == nil {
		t.Error("Local used a server whose certificate its CA did not sign")
	}
	// Another emulator, with its own state directory, is an impostor too.
	foreign := local(t, entratest.WithStateDir(t.TempDir()), entratest.WithLocalAddr(freeAddr(t)))
	u, _ := url.Parse(foreign.URL())
	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr(u.Host)); err == nil {
		t.Error("Local used an emulator of another state directory")
	}
	// A plain HTTP server answers the TLS handshake with garbage.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := entratest.Local(context.Background(), entratest.WithStateDir(dir), entratest.WithLocalAddr(plain.Listener.Addr().String())); err == nil {
		t.Error("Local used a plain HTTP server")
	}
}
