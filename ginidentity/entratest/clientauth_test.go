package entratest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// clientCert is a certificate and its key, as an app registration's credential.
type clientCert struct {
	key *rsa.PrivateKey
	der []byte
	pem []byte
}

func newClientCert(t testing.TB, notAfter time.Time) *clientCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "daemon"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &clientCert{key: key, der: der, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// assertion signs a client assertion the way MSAL does (PS256, x5t#S256), then lets mutate change it.
type assertion struct {
	alg     jwa.SignatureAlgorithm
	headers map[string]any
	claims  map[string]any
	key     *rsa.PrivateKey
}

func (c *clientCert) assertion(clientID, aud string) *assertion {
	s256 := sha256.Sum256(c.der)
	now := time.Now()
	return &assertion{alg: jwa.PS256, key: c.key,
		headers: map[string]any{"typ": "JWT", "x5t#S256": base64.StdEncoding.EncodeToString(s256[:])},
		claims: map[string]any{"aud": aud, "iss": clientID, "sub": clientID, "jti": "3f5b0c2e-1d7a-4c54-9a0f-6b2d5e7c9a11",
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}}
}

func (a *assertion) sign(t testing.TB) string {
	t.Helper()
	hdr := jws.NewHeaders()
	for k, v := range a.headers {
		if err := hdr.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	payload, err := json.Marshal(a.claims)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(a.alg, a.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func assertionForm(clientAssertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {entratest.DaemonClientID}, "scope": {entratest.WebAPIAppIDURI + "/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {clientAssertion}}
}

func TestCertificateClientAssertions(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	cert := newClientCert(t, time.Now().Add(24*time.Hour))
	if err := e.AddClientCertificate(entratest.DaemonClientID, cert.pem); err != nil {
		t.Fatal(err)
	}
	endpoint := e.Authority(entratest.ContosoTenantID) + "/oauth2/v2.0/token"

	accepted := map[string]func(a *assertion){
		"PS256 with x5t#S256 (MSAL)": func(a *assertion) {},
		"RS256 with x5t": func(a *assertion) {
			s1 := sha1.Sum(cert.der)
			a.alg = jwa.RS256
			a.headers = map[string]any{"typ": "JWT", "x5t": base64.RawURLEncoding.EncodeToString(s1[:])}
		},
		"aud by tenant domain":   func(a *assertion) { a.claims["aud"] = e.Authority(entratest.ContosoDomain) + "/oauth2/v2.0/token" },
		"aud the v1.0 endpoint":  func(a *assertion) { a.claims["aud"] = e.Authority(entratest.ContosoTenantID) + "/oauth2/token" },
		"nbf within clock skew":  func(a *assertion) { a.claims["nbf"] = time.Now().Add(2 * time.Minute).Unix() },
		"aud as a one-item list": func(a *assertion) { a.claims["aud"] = []string{endpoint} },
	}
	for name, mutate := range accepted {
		t.Run(name, func(t *testing.T) {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			mutate(a)
			body := mustToken(t, e, entratest.ContosoTenantID, assertionForm(a.sign(t)))
			c := v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
			if c["azpacr"] != "2" {
				t.Errorf("azpacr = %v, want 2 for a certificate", c["azpacr"])
			}
		})
	}

	other := newClientCert(t, time.Now().Add(24*time.Hour))
	expiredCert := newClientCert(t, time.Now().Add(-time.Minute))
	if err := e.AddClientCertificate(entratest.DaemonClientID, expiredCert.pem); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name   string
		form   func() url.Values
		status int
		error  string
		code   int
	}{
		{"certificate not registered", func() url.Values { return assertionForm(other.assertion(entratest.DaemonClientID, endpoint).sign(t)) }, 401, "invalid_client", 700027},
		{"signed by another key", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.key = other.key
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700027},
		{"HS256", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			hdr := jws.NewHeaders()
			_ = hdr.Set("x5t#S256", a.headers["x5t#S256"])
			payload, _ := json.Marshal(a.claims)
			out, err := jws.Sign(payload, jws.WithKey(jwa.HS256, []byte("a shared secret of thirty-two bytes!"), jws.WithProtectedHeaders(hdr)))
			if err != nil {
				t.Fatal(err)
			}
			return assertionForm(string(out))
		}, 401, "invalid_client", 700027},
		{"no thumbprint", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.headers = map[string]any{"typ": "JWT"}
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700027},
		{"certificate expired", func() url.Values {
			return assertionForm(expiredCert.assertion(entratest.DaemonClientID, endpoint).sign(t))
		}, 401, "invalid_client", 700027},
		{"expired assertion", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.claims["exp"] = time.Now().Add(-time.Minute).Unix()
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700024},
		{"assertion without exp", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			delete(a.claims, "exp")
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700024},
		{"assertion not yet valid", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.claims["nbf"] = time.Now().Add(time.Hour).Unix()
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700024},
		{"aud another tenant's endpoint", func() url.Values {
			return assertionForm(cert.assertion(entratest.DaemonClientID, e.Authority(entratest.FabrikamTenantID)+"/oauth2/v2.0/token").sign(t))
		}, 401, "invalid_client", 700023},
		{"aud Entra's endpoint", func() url.Values {
			return assertionForm(cert.assertion(entratest.DaemonClientID, "https://login.microsoftonline.com/"+entratest.ContosoTenantID+"/oauth2/v2.0/token").sign(t))
		}, 401, "invalid_client", 700023},
		{"iss another app", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.claims["iss"] = entratest.WebAPIClientID
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700021},
		{"sub another app", func() url.Values {
			a := cert.assertion(entratest.DaemonClientID, endpoint)
			a.claims["sub"] = entratest.WebAPIClientID
			return assertionForm(a.sign(t))
		}, 401, "invalid_client", 700021},
		{"another app's registered certificate", func() url.Values {
			f := assertionForm(cert.assertion(entratest.WebAPIClientID, endpoint).sign(t))
			f.Set("client_id", entratest.WebAPIClientID)
			return f
		}, 401, "invalid_client", 700027},
		{"wrong assertion type", func() url.Values {
			f := assertionForm(cert.assertion(entratest.DaemonClientID, endpoint).sign(t))
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return f
		}, 400, "invalid_request", 90014},
		{"secret and assertion", func() url.Values {
			f := assertionForm(cert.assertion(entratest.DaemonClientID, endpoint).sign(t))
			f.Set("client_secret", entratest.DaemonSecret)
			return f
		}, 400, "invalid_request", 90014},
		{"malformed assertion", func() url.Values { return assertionForm("a.b") }, 401, "invalid_client", 50027},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, e, entratest.ContosoTenantID, tc.form())
			if status != tc.status || body["error"] != tc.error || codeOf(body) != tc.code {
				t.Fatalf("got %d %v AADSTS%d, want %d %s AADSTS%d: %v", status, body["error"], codeOf(body), tc.status, tc.error, tc.code, body["error_description"])
			}
		})
	}
}

func TestClientSecretBasic(t *testing.T) {
	e := entratest.Start(t)
	endpoint := e.Authority(entratest.ContosoTenantID) + "/oauth2/v2.0/token"
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {entratest.WebAPIAppIDURI + "/.default"}}
	for _, tc := range []struct {
		name, user, pass string
		status, code     int
	}{
		{"right secret", entratest.DaemonClientID, entratest.DaemonSecret, 200, 0},
		{"wrong secret", entratest.DaemonClientID, "wrong", 401, 7000215},
		{"form-encoded secret", entratest.DaemonClientID, url.QueryEscape(entratest.DaemonSecret), 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postTokenWith(t, e.HTTPClient(), endpoint, form, func(r *http.Request) { r.SetBasicAuth(tc.user, tc.pass) })
			if status != tc.status || codeOf(body) != tc.code {
				t.Fatalf("got %d AADSTS%d, want %d AADSTS%d: %v", status, codeOf(body), tc.status, tc.code, body)
			}
		})
	}
	t.Run("client_id of the header differs from the body's", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "scope": {entratest.WebAPIAppIDURI + "/.default"}, "client_id": {entratest.DaemonClientID}}
		status, body := postTokenWith(t, e.HTTPClient(), endpoint, f, func(r *http.Request) { r.SetBasicAuth(entratest.WebAPIClientID, entratest.WebAPISecret) })
		if status != 401 || codeOf(body) != 7000215 {
			t.Fatalf("got %d %v", status, body)
		}
	})
}

func TestAddClientCertificateRefusesBadInput(t *testing.T) {
	e := entratest.Start(t)
	cert := newClientCert(t, time.Now().Add(time.Hour))
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(cert.key)})
	for name, call := range map[string]func() error{
		"unknown app":     func() error { return e.AddClientCertificate("99999999-0000-0000-0000-000000000000", cert.pem) },
		"not PEM":         func() error { return e.AddClientCertificate(entratest.DaemonClientID, []byte("hello")) },
		"a key, not cert": func() error { return e.AddClientCertificate(entratest.DaemonClientID, keyPEM) },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPublicClientRedeemsCodesWithoutCredential(t *testing.T) {
	d := entratest.DefaultDirectory()
	d.Apps = append(d.Apps, entratest.App{ClientID: "44445555-eeee-6666-ffff-777788889999", DisplayName: "cli", TenantID: entratest.ContosoTenantID,
		ObjectID: "5e7a0000-0000-4000-8000-00000000a005", PublicClient: true, RedirectURIs: []string{"http://localhost"},
		ConsentedScopes: map[string][]string{entratest.GraphResource: {"User.Read"}}})
	e := entratest.Start(t, entratest.WithDirectory(d))
	newCode := func() string {
		return e.NewTestCode(entratest.TestCode{ClientID: "44445555-eeee-6666-ffff-777788889999", RedirectURI: "http://localhost", User: entratest.Bob,
			Scopes: []string{"User.Read"}, Challenge: pkcePair(testVerifier), Method: "S256"})
	}
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {"44445555-eeee-6666-ffff-777788889999"}, "code": {code},
			"redirect_uri": {"http://localhost"}, "code_verifier": {testVerifier}, "scope": {"User.Read"}}
	}
	body := mustToken(t, e, entratest.ContosoTenantID, form(newCode()))
	c := newVerifier(t, e, nil).verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
	if c["appidacr"] != "0" {
		t.Errorf("appidacr = %v, want 0 for a public client", c["appidacr"])
	}
	f := form(newCode())
	f.Set("client_secret", "anything")
	if status, body := postToken(t, e, entratest.ContosoTenantID, f); status != 401 || codeOf(body) != 700025 {
		t.Fatalf("public client with a secret: %d %v", status, body)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"44445555-eeee-6666-ffff-777788889999"}, "scope": {"https://graph.microsoft.com/.default"}}
	if status, body := postToken(t, e, entratest.ContosoTenantID, cc); status != 401 || codeOf(body) != 7000218 {
		t.Fatalf("public client asking for an app-only token: %d %v", status, body)
	}
}
