package ginidentity

// Benchmarks of bearer-token validation, each a ratio to a reference measured in the same run.
//
// FIGURES (filled in below by the last measurement)

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	auth0validator "github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	benchIssuerBase = "https://login.microsoftonline.com"
	benchTokenCount = 1000
)

var benchIssuer = benchIssuerBase + "/" + idpTenant + "/v2.0"

var (
	benchTokensOnce sync.Once
	benchTokens     []string
)

// benchTokenSet returns 1,000 distinct Entra-shaped v2.0 access tokens (about 1.6 KB each), valid for a day
// from now, signed once per process with the key the bench IdP publishes.
func benchTokenSet(b *testing.B) []string {
	benchTokensOnce.Do(func() {
		now := time.Now()
		for i := range benchTokenCount {
			claims := map[string]any{
				"aud": idpAPIClientID, "iss": benchIssuer, "tid": idpTenant,
				"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
				"aio": strings.Repeat("AWQAm/8TAAAA", 16), "azp": idpCallerID, "azpacr": "1", "name": "Alice Smith",
				"oid": fmt.Sprintf("a11ce000-0000-4000-8000-%012d", i), "preferred_username": "alice@contoso.onmicrosoft.com",
				"rh":  "1.AXEAu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7.",
				"scp": "ToDoList.Read ToDoList.ReadWrite", "sub": "pL2WJf0aBc0dEf1gHi2jKl3mNo4pQr5sTu6vWx7yZa8",
				"uti": fmt.Sprintf("AbCdEfGhIjKlMnOpQr%04d", i), "ver": "2.0", "xms_tcdt": 1600000000,
				"wids": []string{"b79fbf4d-3ef9-4689-8143-76b194e85509"},
			}
			benchTokens = append(benchTokens, signToken(b, claims, idpRSAKey(0), map[string]any{"kid": "key-0", "x5t": "key-0"}))
		}
	})
	return benchTokens
}

// benchIdP serves the keys for the bench tokens.
func benchIdP(b *testing.B) *testIdP {
	idp := newTestIdP(b)
	idp.issuerBase = benchIssuerBase
	return idp
}

func benchAuth(b *testing.B, idp *testIdP, cacheSize int) *BearerAuth {
	auth, err := NewBearerAuth(BearerOptions{
		Instance: idp.instance(), TenantID: idpTenant, ClientID: idpAPIClientID, HTTPClient: idp.srv.Client(),
		ValidatedTokenCacheSize: cacheSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := auth.RefreshKeys(context.Background()); err != nil {
		b.Fatal(err)
	}
	return auth
}

// BenchmarkFloorRSAVerify is the reference: SHA-256 of a token's signing input and an RSA-2048 PKCS#1 v1.5
// verify with crypto/rsa, nothing else.
func BenchmarkFloorRSAVerify(b *testing.B) {
	tok := benchTokenSet(b)[0]
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(tok[:dot])
	pub := &idpRSAKey(0).PublicKey
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// floorVerifier returns the floor's operation for the token: SHA-256 of its signing input and an RSA verify.
func floorVerifier(b *testing.B, tok string) func() {
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(tok[:dot])
	pub := &idpRSAKey(0).PublicKey
	return func() {
		h := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// ratioToFloor interleaves the floor with the operation (repeated k times) in every iteration and reports
// the operation's cost as a multiple of the floor ("x-floor"). On a shared, noisy machine the interleaving
// keeps the ratio steady where separate benchmarks drift with the load.
func ratioToFloor(b *testing.B, k int, floor func(), op func(i int)) {
	var floorTime, opTime time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		floor()
		t1 := time.Now()
		for range k {
			op(i)
			i++
		}
		t2 := time.Now()
		floorTime += t1.Sub(t0)
		opTime += t2.Sub(t1)
	}
	b.ReportMetric(float64(opTime)/float64(k)/float64(floorTime), "x-floor")
	b.ReportMetric(float64(opTime.Nanoseconds())/float64(k)/float64(b.N), "op-ns")
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(b.N), "floor-ns")
}

// serveOne returns a function sending GET /api with the i-th token (cycling) to the engine in-process.
func serveOne(b *testing.B, e *gin.Engine, tokens []string) func(i int) {
	headers := make([]string, len(tokens))
	for i, tok := range tokens {
		headers[i] = "Bearer " + tok
	}
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	w := &discardWriter{h: http.Header{}}
	return func(i int) {
		req.Header["Authorization"] = []string{headers[i%len(headers)]}
		w.status = 0
		e.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkRatioColdTokenToFloor: a token seen for the first time through the Gin middleware, as a
// multiple of the floor (goal: at most 1.3).
func BenchmarkRatioColdTokenToFloor(b *testing.B) {
	tokens := benchTokenSet(b)
	ratioToFloor(b, 1, floorVerifier(b, tokens[0]), serveOne(b, benchRoute(benchAuth(b, benchIdP(b), 64)), tokens))
}

// BenchmarkRatioCachedTokenToFloor: a token seen before through the Gin middleware, as a multiple of the
// floor (goal: at most 0.1).
func BenchmarkRatioCachedTokenToFloor(b *testing.B) {
	tokens := benchTokenSet(b)
	auth := benchAuth(b, benchIdP(b), 0)
	for _, tok := range tokens {
		if _, err := auth.ValidateToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
	ratioToFloor(b, 16, floorVerifier(b, tokens[0]), serveOne(b, benchRoute(auth), tokens))
}

// BenchmarkRatioJWXParseToFloor: jwx's default jwt.Parse path, as a multiple of the floor, for comparison.
func BenchmarkRatioJWXParseToFloor(b *testing.B) {
	tokens := benchTokenSet(b)
	parse := jwxParser(b)
	ratioToFloor(b, 1, floorVerifier(b, tokens[0]), func(i int) { parse(tokens[i%len(tokens)]) })
}

// jwxParser is jwx's default path: jwt.Parse with a key set (alg set on the key, as Entra's JWKS lacks it)
// and validation of iss, aud, exp and nbf.
func jwxParser(b *testing.B) func(string) {
	key, err := jwk.FromRaw(&idpRSAKey(0).PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "key-0")
	_ = key.Set(jwk.AlgorithmKey, jwa.RS256)
	set := jwk.NewSet()
	_ = set.AddKey(key)
	return func(tok string) {
		if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithIssuer(benchIssuer), jwt.WithAudience(idpAPIClientID), jwt.WithAcceptableSkew(5*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRoute is a Gin engine with GET /api behind the middleware (nil: no authentication).
func benchRoute(auth *BearerAuth) *gin.Engine {
	e := gin.New()
	handlers := []gin.HandlerFunc{func(c *gin.Context) { c.String(http.StatusOK, "ok") }}
	if auth != nil {
		handlers = append([]gin.HandlerFunc{auth.Middleware()}, handlers...)
	}
	e.GET("/api", handlers...)
	return e
}

// serveRing sends the tokens in turn to the engine in-process.
func serveRing(b *testing.B, e *gin.Engine, tokens []string) {
	req := httptest.NewRequest(http.MethodGet, "/api", nil)
	w := &discardWriter{h: http.Header{}}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
		i++
		w.status = 0
		e.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkMiddlewareColdToken: a Gin route behind the middleware, every token seen for the first time (1,000
// tokens cycling through a cache of 64, so each request validates fully and replaces a cache entry).
func BenchmarkMiddlewareColdToken(b *testing.B) {
	serveRing(b, benchRoute(benchAuth(b, benchIdP(b), 64)), benchTokenSet(b))
}

// BenchmarkMiddlewareCachedToken: the same route, every token seen before (1,000 tokens, default cache).
func BenchmarkMiddlewareCachedToken(b *testing.B) {
	auth := benchAuth(b, benchIdP(b), 0)
	for _, tok := range benchTokenSet(b) {
		if _, err := auth.ValidateToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
	serveRing(b, benchRoute(auth), benchTokenSet(b))
}

// BenchmarkGinRouteNoAuth: the same route without authentication, for scale.
func BenchmarkGinRouteNoAuth(b *testing.B) {
	serveRing(b, benchRoute(nil), benchTokenSet(b))
}

// BenchmarkValidateColdToken: the validator alone, without Gin, cache disabled.
func BenchmarkValidateColdToken(b *testing.B) {
	auth := benchAuth(b, benchIdP(b), -1)
	tokens := benchTokenSet(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.ValidateToken(context.Background(), tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkJWXParseReference is jwx's default path for comparison: jwt.Parse with a key set (alg set on the
// key, as Entra's JWKS lacks it) and validation of iss, aud, exp and nbf.
func BenchmarkJWXParseReference(b *testing.B) {
	key, err := jwk.FromRaw(&idpRSAKey(0).PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "key-0")
	_ = key.Set(jwk.AlgorithmKey, jwa.RS256)
	set := jwk.NewSet()
	_ = set.AddKey(key)
	tokens := benchTokenSet(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.ParseString(tokens[i%len(tokens)], jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithIssuer(benchIssuer), jwt.WithAudience(idpAPIClientID), jwt.WithAcceptableSkew(5*time.Minute)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Loopback load: a Go load generator sends GET /api over keep-alive HTTP connections to a real server on
// 127.0.0.1, cycling through the 1,000 tokens; server and load share the machine's cores. Each reports
// req/s; compare BenchmarkLoadProtected and BenchmarkLoadAuth0 with BenchmarkLoadUnauthenticated.
const loadConnections = 16

func loadTest(b *testing.B, handler http.Handler, warm bool) {
	srv := httptest.NewServer(handler)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadConnections, MaxConnsPerHost: loadConnections}}
	defer client.CloseIdleConnections()
	tokens := benchTokenSet(b)
	send := func(tok string) error {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if warm { // every token once, so that the timed part measures the steady state
		for _, tok := range tokens {
			if err := send(tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range loadConnections {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := send(tokens[i%int64(len(tokens))]); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func BenchmarkLoadUnauthenticated(b *testing.B) {
	benchTokenSet(b)
	loadTest(b, benchRoute(nil), true)
}

func BenchmarkLoadProtected(b *testing.B) {
	loadTest(b, benchRoute(benchAuth(b, benchIdP(b), 0)), true)
}

// BenchmarkLoadAuth0 protects the same route with auth0/go-jwt-middleware v2 (its validator and caching JWKS
// provider), wrapped for Gin as its documentation shows.
func BenchmarkLoadAuth0(b *testing.B) {
	idp := benchIdP(b)
	issuer, _ := url.Parse(benchIssuer)
	jwksURI, _ := url.Parse(idp.srv.URL + "/" + idpTenant + "/discovery/v2.0/keys")
	provider := jwks.NewCachingProvider(issuer, 5*time.Minute, jwks.WithCustomJWKSURI(jwksURI), jwks.WithCustomClient(idp.srv.Client()))
	v, err := auth0validator.New(provider.KeyFunc, auth0validator.RS256, benchIssuer, []string{idpAPIClientID}, auth0validator.WithAllowedClockSkew(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	mw := jwtmiddleware.New(v.ValidateToken)
	e := gin.New()
	e.GET("/api", func(c *gin.Context) {
		passed := false
		mw.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}, func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	loadTest(b, e, true)
}
