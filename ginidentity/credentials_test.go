package ginidentity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// The development certificate in testdata: PEM (certificate and unencrypted key) and PFX (password
// dev-password, AES-256 as OpenSSL 3 writes it).
const (
	acqDevCertPEM      = "../testdata/dev-client-cert.pem"
	acqDevCertPFX      = "../testdata/dev-client-cert.pfx"
	acqDevCertPassword = "dev-password"
)

// acqCert is a certificate made by a test, with its key.
type acqCert struct {
	pem []byte // certificate and key
	der []byte
	key *rsa.PrivateKey
}

func acqNewCert(t testing.TB, notAfter time.Time) acqCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test client"},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p = append(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return acqCert{pem: p, der: der, key: key}
}

func acqCertOnly(p []byte) []byte {
	block, _ := pem.Decode(p)
	return pem.EncodeToMemory(block)
}

func acqWriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// acqLog collects the acquirer's log.
type acqLog struct{ bytes.Buffer }

func (b *acqLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func TestLoadCredentials(t *testing.T) {
	pfx, err := os.ReadFile(acqDevCertPFX)
	if err != nil {
		t.Fatal(err)
	}
	devPEM, err := os.ReadFile(acqDevCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	expired := acqNewCert(t, time.Now().Add(-time.Hour))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecDER, _ := x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, &ecKey.PublicKey, ecKey)
	ecKeyDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecKeyDER})...)
	assertion := acqWriteFile(t, "token", []byte("eyJhbGciOiJSUzI1NiJ9.e30.sig\n"))

	for _, c := range []struct {
		name  string
		cd    CredentialDescription
		field string // in the error; "" when it loads
		fix   string
	}{
		{"secret", CredentialDescription{SourceType: "ClientSecret", ClientSecret: "s3cret-value"}, "", ""},
		{"secret by enum number", CredentialDescription{SourceType: "6", ClientSecret: "s3cret-value"}, "", ""},
		{"empty secret", CredentialDescription{SourceType: SourceClientSecret}, "AzureAd:ClientCredentials:0:ClientSecret", "secret's value"},
		{"PEM file", CredentialDescription{SourceType: SourcePath, CertificateDiskPath: acqDevCertPEM}, "", ""},
		{"PFX file", CredentialDescription{SourceType: SourcePath, CertificateDiskPath: acqDevCertPFX, CertificatePassword: acqDevCertPassword}, "", ""},
		{"PFX, wrong password", CredentialDescription{SourceType: SourcePath, CertificateDiskPath: acqDevCertPFX, CertificatePassword: "wrong-pass-value"},
			"AzureAd:ClientCredentials:0:CertificateDiskPath", "CertificatePassword"},
		{"missing file", CredentialDescription{SourceType: SourcePath, CertificateDiskPath: "/nonexistent/cert.pfx"},
			"AzureAd:ClientCredentials:0:CertificateDiskPath", "check the path"},
		{"certificate without its key", CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(acqCertOnly(devPEM))},
			"AzureAd:ClientCredentials:0:Base64EncodedValue", "unencrypted private key"},
		{"base64 PFX", CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(pfx), CertificatePassword: acqDevCertPassword}, "", ""},
		{"base64 PEM as Certificate", CredentialDescription{SourceType: SourceCertificate, Base64EncodedValue: base64.StdEncoding.EncodeToString(devPEM)}, "", ""},
		{"not base64", CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: "%%%"}, "AzureAd:ClientCredentials:0:Base64EncodedValue", "base64 -w0"},
		{"expired certificate", CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(expired.pem)},
			"AzureAd:ClientCredentials:0:Base64EncodedValue", "create a new certificate"},
		{"EC key", CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(ecPEM)},
			"AzureAd:ClientCredentials:0:Base64EncodedValue", "RSA key"},
		{"signed assertion file", CredentialDescription{SourceType: SourceSignedAssertionFilePath, SignedAssertionFileDiskPath: assertion}, "", ""},
		{"signed assertion file missing", CredentialDescription{SourceType: SourceSignedAssertionFilePath, SignedAssertionFileDiskPath: "/nonexistent/token"},
			"AzureAd:ClientCredentials:0:SignedAssertionFileDiskPath", "workload identity"},
		{"key vault", CredentialDescription{SourceType: SourceKeyVault, KeyVaultURL: "https://v.vault.azure.net", KeyVaultCertificateName: "c"},
			"AzureAd:ClientCredentials:0:SourceType", "Base64Encoded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log acqLog
			creds, err := loadCredentials(AzureAdOptions{ClientCredentials: []CredentialDescription{c.cd}}, time.Now(), log.logger())
			if c.field == "" {
				if err != nil || len(creds) != 1 || creds[0].name != "AzureAd:ClientCredentials:0" {
					t.Fatalf("loadCredentials: %v (%d loaded)", err, len(creds))
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(ce.Fix, c.fix) {
				t.Fatalf("error %v, want a ConfigError for %s whose fix mentions %q", err, c.field, c.fix)
			}
			for _, secret := range []string{c.cd.ClientSecret, c.cd.CertificatePassword, c.cd.Base64EncodedValue} {
				if secret != "" && (strings.Contains(err.Error(), secret) || strings.Contains(log.String(), secret)) {
					t.Errorf("the error or the log shows a secret: %v\n%s", err, log.String())
				}
			}
			if !strings.Contains(log.String(), "credential=AzureAd:ClientCredentials:0") {
				t.Errorf("no warning naming the entry: %q", log.String())
			}
		})
	}

	t.Run("the federated token file of workload identity", func(t *testing.T) {
		t.Setenv(federatedTokenFileEnv, assertion)
		if _, err := loadCredentials(AzureAdOptions{ClientCredentials: []CredentialDescription{{SourceType: SourceSignedAssertionFilePath}}}, time.Now(), acqQuietLogger()); err != nil {
			t.Fatal(err)
		}
		t.Setenv(federatedTokenFileEnv, "")
		_, err := loadCredentials(AzureAdOptions{ClientCredentials: []CredentialDescription{{SourceType: SourceSignedAssertionFilePath}}}, time.Now(), acqQuietLogger())
		if err == nil || !strings.Contains(err.Error(), federatedTokenFileEnv+" is not set") {
			t.Errorf("error %v", err)
		}
	})

	t.Run("order and names", func(t *testing.T) {
		a := AzureAdOptions{
			ClientCredentials:  []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "a"}, {Skip: true, SourceType: SourceClientSecret, ClientSecret: "b"}, {SourceType: SourcePath, CertificateDiskPath: acqDevCertPEM}},
			ClientCertificates: []CredentialDescription{{SourceType: SourcePath, CertificateDiskPath: acqDevCertPFX, CertificatePassword: acqDevCertPassword}},
			ClientSecret:       "legacy",
		}
		creds, err := loadCredentials(a, time.Now(), acqQuietLogger())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range creds {
			names = append(names, c.name)
		}
		want := "AzureAd:ClientCredentials:0 AzureAd:ClientCredentials:2 AzureAd:ClientCertificates:0 AzureAd:ClientSecret"
		if strings.Join(names, " ") != want {
			t.Errorf("credentials %v, want %s", names, want)
		}
	})

	t.Run("none", func(t *testing.T) {
		_, err := loadCredentials(AzureAdOptions{}, time.Now(), acqQuietLogger())
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "AzureAd:ClientCredentials" {
			t.Errorf("error %v", err)
		}
		_, err = loadCredentials(AzureAdOptions{ClientCredentials: []CredentialDescription{{SourceType: SourcePath, CertificateDiskPath: "/nonexistent"}}}, time.Now(), acqQuietLogger())
		if err == nil || !strings.Contains(err.Error(), "no client credential could be loaded") || !strings.Contains(err.Error(), "AzureAd:ClientCredentials:0:CertificateDiskPath") {
			t.Errorf("error %v", err)
		}
	})
}

// TestCredentialFallback: the credentials are tried in order; one that cannot be loaded is skipped with a
// warning, one the token endpoint refuses (invalid_client) gives way to the next, and the one that worked is
// tried first from then on.
func TestCredentialFallback(t *testing.T) {
	e := entratest.Start(t)
	registered := acqNewCert(t, time.Now().Add(24*time.Hour))
	if err := e.AddClientCertificate(entratest.DaemonClientID, acqCertOnly(registered.pem)); err != nil {
		t.Fatal(err)
	}
	unregistered := acqNewCert(t, time.Now().Add(24*time.Hour))
	cfg := acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, "")
	cfg.AzureAd.ClientCredentials = []CredentialDescription{
		{SourceType: SourceClientSecret, ClientSecret: "wrong-secret-value"},
		{SourceType: SourcePath, CertificateDiskPath: "/nonexistent/cert.pem"},
		{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(unregistered.pem)},
		{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(registered.pem)},
		{SourceType: SourceClientSecret, ClientSecret: entratest.DaemonSecret},
	}
	hc, reqs := acqCountingClient(e)
	var log acqLog
	a := acqNew(t, cfg, &AcquirerOptions{HTTPClient: hc, Logger: log.logger()})
	if !strings.Contains(log.String(), "credential=AzureAd:ClientCredentials:1") {
		t.Errorf("no warning for the credential that cannot be loaded: %s", log.String())
	}
	tok, err := a.TokenForApp(acqContext(t), acqGraphDefault)
	if err != nil {
		t.Fatal(err)
	}
	if acr := acqClaimsOf(t, tok.AccessToken)["appidacr"]; acr != "2" || reqs.get("token") != 3 {
		t.Fatalf("appidacr %v after %d token requests: want the registered certificate (2) after 3", acr, reqs.get("token"))
	}
	for _, refused := range []string{"credential=AzureAd:ClientCredentials:0", "credential=AzureAd:ClientCredentials:2"} {
		if !strings.Contains(log.String(), refused) {
			t.Errorf("no warning naming %s: %s", refused, log.String())
		}
	}
	if strings.Contains(log.String(), "wrong-secret-value") {
		t.Error("the log shows a secret")
	}
	if _, err := a.TokenForApp(acqContext(t), acqGraphDefault, WithForceRefresh()); err != nil || reqs.get("token") != 4 {
		t.Errorf("the working credential was not tried first: %v, %d token requests", err, reqs.get("token"))
	}

	t.Run("all refused", func(t *testing.T) {
		cfg := acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, "")
		cfg.AzureAd.ClientCredentials = []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "wrong-1"},
			{SourceType: SourceBase64Encoded, Base64EncodedValue: base64.StdEncoding.EncodeToString(unregistered.pem)}}
		a := acqNew(t, cfg, &AcquirerOptions{HTTPClient: hc})
		_, err := a.TokenForApp(acqContext(t), acqGraphDefault)
		var te *TokenEndpointError
		if !errors.As(err, &te) || te.Code != "invalid_client" {
			t.Fatalf("error %v, want invalid_client", err)
		}
		for _, want := range []string{"AzureAd:ClientCredentials:0 (ClientSecret)", "AADSTS7000215", "AzureAd:ClientCredentials:1 (Base64Encoded)", "AADSTS700027", "Certificates & secrets"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not mention %q: %v", want, err)
			}
		}
		if strings.Contains(err.Error(), "wrong-1") {
			t.Error("the error shows a secret")
		}
	})
}

// TestSignedAssertionFileIsReadOnEveryAssertion: workload identity rotates the projected token file; the
// acquirer reads it afresh for every token request.
func TestSignedAssertionFileIsReadOnEveryAssertion(t *testing.T) {
	e := entratest.Start(t)
	cert := acqNewCert(t, time.Now().Add(24*time.Hour))
	if err := e.AddClientCertificate(entratest.DaemonClientID, acqCertOnly(cert.pem)); err != nil {
		t.Fatal(err)
	}
	tokenEndpoint := e.Authority(entratest.ContosoTenantID) + "/oauth2/v2.0/token"
	path := acqWriteFile(t, "azure-identity-token", []byte(acqSignAssertion(t, cert, tokenEndpoint)))
	cfg := acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, "")
	cfg.AzureAd.ClientCredentials = []CredentialDescription{{SourceType: SourceSignedAssertionFilePath, SignedAssertionFileDiskPath: path}}
	hc, _ := acqCountingClient(e)
	a := acqNew(t, cfg, &AcquirerOptions{HTTPClient: hc})
	ctx := acqContext(t)
	tok, err := a.TokenForApp(ctx, acqGraphDefault)
	if err != nil {
		t.Fatal(err)
	}
	if acqClaimsOf(t, tok.AccessToken)["appidacr"] != "2" {
		t.Errorf("claims %v", acqClaimsOf(t, tok.AccessToken))
	}
	// The file now holds an assertion for another audience: the next request sends it, and is refused.
	if err := os.WriteFile(path, []byte(acqSignAssertion(t, cert, "https://elsewhere.example/token")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh()); err == nil || !strings.Contains(err.Error(), "AADSTS700023") {
		t.Fatalf("with the new file's assertion: %v, want AADSTS700023", err)
	}
	if err := os.WriteFile(path, []byte(acqSignAssertion(t, cert, tokenEndpoint)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh()); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
}

// acqSignAssertion signs a client assertion as a federated identity provider would hand one to the app.
func acqSignAssertion(t testing.TB, c acqCert, audience string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(entratest.DaemonClientID).Subject(entratest.DaemonClientID).Audience([]string{audience}).
		JwtID(rand.Text()).NotBefore(now).IssuedAt(now).Expiration(now.Add(10 * time.Minute)).Build()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jwt.NewSerializer().Serialize(tok)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.der)
	hdr := jws.NewHeaders()
	_ = hdr.Set("x5t#S256", base64.StdEncoding.EncodeToString(sum[:]))
	_ = hdr.Set(jws.TypeKey, "JWT")
	signed, err := jws.Sign(payload, jws.WithKey(jwa.RS256, c.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}
