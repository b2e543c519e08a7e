package ginazure

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The real azblob client, with a user's credential, creates a container, uploads a blob and lists it on
// Azurite in OAuth mode over HTTPS: Azurite accepts the token only because it is shaped as Entra issues them
// to Storage (a v1.0 token of https://sts.windows.net/{tid}/ for https://storage.azure.com).
func TestAzuriteWithAUserCredential(t *testing.T) {
	blobURL := startAzurite(t)
	e := entratest.Start(t, entratest.WithDirectory(storageConsentedDirectory()))
	ctx := callerContext(t, e, entratest.Alice)
	cred, err := NewUserCredential(ctx, webAPIAcquirer(t, e), nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClient(blobURL, cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: azuriteClient(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContainer(ctx, "todos", nil); err != nil {
		t.Fatalf("create the container: %v", err)
	}
	content := []byte("Buy milk\n")
	if _, err := client.UploadBuffer(ctx, "todos", "alice/todo.txt", content, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	var names []string
	pager := client.NewListBlobsFlatPager("todos", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	if strings.Join(names, ",") != "alice/todo.txt" {
		t.Fatalf("blobs %q", names)
	}
	got, err := client.DownloadStream(ctx, "todos", "alice/todo.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(data, content) {
		t.Fatalf("downloaded %q", data)
	}

	// The check is real: a credential whose tokens Azurite must refuse (issued for Graph) is refused.
	graphOnly, err := NewUserCredential(ctx, webAPIAcquirer(t, e), &CredentialOptions{Scopes: []string{"https://graph.microsoft.com/User.Read"}})
	if err != nil {
		t.Fatal(err)
	}
	refused, err := azblob.NewClient(blobURL, graphOnly, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: azuriteClient(t)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = refused.CreateContainer(ctx, "other", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != "AuthenticationFailed" || !strings.Contains(err.Error(), "Invalid token audience") {
		t.Fatalf("a Graph token on Azurite: %v, want AuthenticationFailed for the audience", err)
	}
}

// azuriteCert is the TLS certificate the test generates for Azurite, and the pool trusting it.
var azuriteCert struct {
	once            sync.Once
	certPEM, keyPEM []byte
	pool            *x509.CertPool
	err             error
}

func generateAzuriteCert() {
	c := &azuriteCert
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.err = err
		return
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		c.err = err
		return
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.err = err
		return
	}
	cert, _ := x509.ParseCertificate(der)
	c.pool = x509.NewCertPool()
	c.pool.AddCert(cert)
	c.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	c.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// azuriteClient is an HTTP client trusting only the certificate the test gave Azurite.
func azuriteClient(t *testing.T) *http.Client {
	azuriteCert.once.Do(generateAzuriteCert)
	if azuriteCert.err != nil {
		t.Fatal(azuriteCert.err)
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: azuriteCert.pool, MinVersion: tls.VersionTLS12}}}
}

// azuriteBinary finds azurite-blob: $AZURITE_BIN, else .ci/node_modules/.bin/azurite-blob at the repository's
// root (where .ci/run installs it), else PATH.
func azuriteBinary() (string, error) {
	if bin := os.Getenv("AZURITE_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", err
		}
		return bin, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				bin := filepath.Join(dir, ".ci", "node_modules", ".bin", "azurite-blob")
				if _, err := os.Stat(bin); err == nil {
					return bin, nil
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return exec.LookPath("azurite-blob")
}

var listening = regexp.MustCompile(`listens on (https://127\.0\.0\.1:\d+)`)

// startAzurite starts Azurite's blob service in OAuth mode over HTTPS on a free port with a fresh storage
// directory, stopped when the test ends, and returns the URL of its development account. Without Node or
// Azurite the test is skipped, unless GINIDENTITY_REQUIRE_AZURITE=1 (CI), which makes it fail.
func startAzurite(t *testing.T) string {
	t.Helper()
	missing := func(what string, err error) {
		msg := what + ": " + err.Error() + "; install it with `cd .ci && npm install --no-audit --no-fund azurite@3` (Node.js 18 or later) or set AZURITE_BIN to azurite-blob"
		if os.Getenv("GINIDENTITY_REQUIRE_AZURITE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin, err := azuriteBinary()
	if err != nil {
		missing("Azurite (azurite-blob) not found", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("Node.js not found", err)
	}
	azuriteClient(t) // generates the certificate
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, azuriteCert.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, azuriteCert.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--oauth", "basic", "--cert", cert, "--key", key, "--blobHost", "127.0.0.1", "--blobPort", "0",
		"--location", filepath.Join(dir, "data"), "--skipApiVersionCheck", "--disableTelemetry", "--silent")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		missing("Azurite did not start", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	found := make(chan string, 1)
	var logged bytes.Buffer
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case u := <-found:
		return u + "/devstoreaccount1"
	case <-exited:
		t.Fatalf("Azurite exited: %v\n%s%s", errors.Join(cmd.Err, ctx.Err()), logged.String(), stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("Azurite did not listen within 90s")
	}
	return ""
}
