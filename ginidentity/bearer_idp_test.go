package ginidentity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// The bearer tests run against testIdP, an Entra-shaped discovery document and JWKS served over TLS by
// httptest, whose keys the tests hold to sign good and forged tokens.

const (
	idpTenant       = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	idpOtherTenant  = "bbbbcccc-1111-dddd-2222-eeee3333ffff"
	idpThirdTenant  = "ccccdddd-2222-eeee-3333-ffff4444aaaa"
	idpTenantDomain = "contoso.example"
	idpAPIClientID  = "11112222-bbbb-3333-cccc-4444dddd5555"
	idpCallerID     = "00001111-aaaa-2222-bbbb-3333cccc4444"
	idpUserOID      = "a11ce000-0000-4000-8000-00000000a11c"
)

func init() { gin.SetMode(gin.TestMode) }

// idpRSAKey returns the i-th of a few RSA-2048 keys generated once for the package's tests.
func idpRSAKey(i int) *rsa.PrivateKey {
	idpKeysOnce.Do(func() {
		for j := range idpKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			idpKeys[j] = k
		}
	})
	return idpKeys[i]
}

var (
	idpKeysOnce sync.Once
	idpKeys     [4]*rsa.PrivateKey
)

// idpKey is a signing key the test IdP may publish.
type idpKey struct {
	kid  string
	priv crypto.Signer
	// jwk overrides the published JWK fields (alg, use, kid...); nil values delete a field.
	jwk map[string]any
}

func (k idpKey) publicJWK() map[string]any {
	m := map[string]any{"kid": k.kid, "use": "sig", "issuer": "ignored"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		thumb := sha1.Sum(pub.N.Bytes()) // shaped like Entra's x5t, a SHA-1 thumbprint
		m["x5t"] = b64url(thumb[:])
		m["kty"] = "RSA"
		m["n"] = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
		m["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	default:
		panic(fmt.Sprintf("idpKey: unsupported key %T", pub))
	}
	for f, v := range k.jwk {
		if v == nil {
			delete(m, f)
		} else {
			m[f] = v
		}
	}
	return m
}

// testIdP serves /{tenant}/v2.0/.well-known/openid-configuration and the JWKS as Entra does, with switches
// to fail or slow them, and counts the requests.
type testIdP struct {
	srv *httptest.Server

	mu        sync.Mutex
	published []idpKey
	failWith  int           // non-zero: discovery and keys answer with this status
	delay     time.Duration // wait before answering
	jwksURI   string        // overrides the jwks_uri of the discovery document
	// issuerBase replaces the server's URL in the issuers of the discovery document, so that tokens signed
	// once stay valid across servers (the benchmarks use https://login.microsoftonline.com).
	issuerBase string

	discoveryHits, keysHits atomic.Int32
}

func newTestIdP(t testing.TB) *testIdP {
	idp := &testIdP{}
	idp.published = []idpKey{{kid: "key-0", priv: idpRSAKey(0)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.discoveryHits.Add(1)
		if !idp.misbehave(w, r) {
			return
		}
		idp.mu.Lock()
		jwks, base := idp.jwksURI, idp.issuerBase
		idp.mu.Unlock()
		if base == "" {
			base = idp.srv.URL
		}
		tenant := r.PathValue("tenant")
		issuer := base + "/" + tenant + "/v2.0"
		switch tenant {
		case "common", "organizations":
			issuer = base + "/{tenantid}/v2.0"
		case idpTenantDomain:
			issuer = base + "/" + idpTenant + "/v2.0"
		}
		if jwks == "" {
			jwks = idp.srv.URL + "/" + tenant + "/discovery/v2.0/keys"
		}
		writeTestJSON(w, map[string]any{"issuer": issuer, "jwks_uri": jwks,
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		idp.keysHits.Add(1)
		if !idp.misbehave(w, r) {
			return
		}
		idp.mu.Lock()
		var keys []map[string]any
		for _, k := range idp.published {
			keys = append(keys, k.publicJWK())
		}
		idp.mu.Unlock()
		writeTestJSON(w, map[string]any{"keys": keys})
	})
	idp.srv = httptest.NewTLSServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

// misbehave applies the configured failure; it reports whether to answer normally.
func (idp *testIdP) misbehave(w http.ResponseWriter, r *http.Request) bool {
	idp.mu.Lock()
	status, delay := idp.failWith, idp.delay
	idp.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	if status != 0 {
		http.Error(w, `{"error":"temporarily_unavailable","error_description":"AADSTS90033: down for the test"}`, status)
		return false
	}
	return true
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (idp *testIdP) fail(status int) {
	idp.mu.Lock()
	idp.failWith = status
	idp.mu.Unlock()
}

func (idp *testIdP) setDelay(d time.Duration) {
	idp.mu.Lock()
	idp.delay = d
	idp.mu.Unlock()
}

func (idp *testIdP) publish(keys ...idpKey) {
	idp.mu.Lock()
	idp.published = keys
	idp.mu.Unlock()
}

func (idp *testIdP) instance() string { return idp.srv.URL + "/" }

// issuer is the v2.0 issuer of a tenant.
func (idp *testIdP) issuer(tenant string) string { return idp.srv.URL + "/" + tenant + "/v2.0" }

// testClock is a clock the tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bearerFixture is a BearerAuth against a testIdP with a test clock, and a Gin engine with a protected route
// GET /api that echoes the caller's object id from both contexts.
type bearerFixture struct {
	t      testing.TB
	idp    *testIdP
	clock  *testClock
	auth   *BearerAuth
	engine *gin.Engine
	logs   *logBuffer
}

func newBearerFixture(t testing.TB, configure func(*BearerOptions)) *bearerFixture {
	t.Helper()
	f := &bearerFixture{t: t, idp: newTestIdP(t), clock: newTestClock(), logs: &logBuffer{}}
	opts := BearerOptions{
		Instance:   f.idp.instance(),
		TenantID:   idpTenant,
		ClientID:   idpAPIClientID,
		Now:        f.clock.Now,
		HTTPClient: f.idp.srv.Client(),
		Logger:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&opts)
	}
	auth, err := NewBearerAuth(opts)
	if err != nil {
		t.Fatalf("NewBearerAuth: %v", err)
	}
	f.auth = auth
	f.engine = gin.New()
	f.engine.GET("/api", auth.Middleware(), func(c *gin.Context) {
		cl, ok := ClaimsFrom(c)
		rc, rok := ClaimsFromContext(c.Request.Context())
		if !ok || !rok || cl != rc {
			c.String(http.StatusInternalServerError, "claims missing from a context")
			return
		}
		c.String(http.StatusOK, cl.ObjectID())
	})
	return f
}

// do sends GET /api with the token (none when empty).
func (f *bearerFixture) do(token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	return rec
}

// claims are the claims of a valid v2.0 delegated token for the API, issued now by the tenant.
func (f *bearerFixture) claims() map[string]any {
	return idpClaims(f.idp, f.clock.Now(), idpTenant)
}

func idpClaims(idp *testIdP, now time.Time, tenant string) map[string]any {
	return map[string]any{
		"aud": idpAPIClientID, "iss": idp.issuer(tenant), "tid": tenant,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"azp": idpCallerID, "azpacr": "1", "name": "Alice Smith", "oid": idpUserOID,
		"preferred_username": "alice@contoso.example", "scp": "ToDoList.Read ToDoList.ReadWrite",
		"sub": "pL2WJf0aBc0dEf1gHi2jKl3mNo4pQr5sTu6vWx7yZa8", "ver": "2.0",
		"aio": strings.Repeat("AWQAm/8TAAAA", 12), "uti": "AbCdEfGhIjKlMnOpQrStUv",
		"rh": "0.AXEAu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7.",
	}
}

// sign signs the claims with the IdP's key 0 under kid key-0, with Entra's header.
func (f *bearerFixture) sign(claims map[string]any) string {
	f.t.Helper()
	return signToken(f.t, claims, idpRSAKey(0), map[string]any{"kid": "key-0"})
}

// signToken serializes the claims and signs them with RS256 (or the header's alg) and the key; header
// holds the protected header's fields besides alg and typ.
func signToken(t testing.TB, claims map[string]any, key crypto.Signer, header map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]any{"typ": "JWT", "alg": "RS256"}
	for k, v := range header {
		h[k] = v
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, hdr, payload, key, jwa.SignatureAlgorithm(h["alg"].(string)))
}

// signRaw builds a compact JWS from raw header and payload JSON, signed with jwx's signer for alg.
func signRaw(t testing.TB, header, payload []byte, key crypto.Signer, alg jwa.SignatureAlgorithm) string {
	t.Helper()
	input := b64url(header) + "." + b64url(payload)
	return input + "." + b64url(signInput(t, input, key, alg))
}

func signInput(t testing.TB, input string, key any, alg jwa.SignatureAlgorithm) []byte {
	t.Helper()
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claimsWith returns a copy of the claims with the changes; a nil value deletes the claim.
func claimsWith(claims map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
