package ginidentity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeysDownAtStartAnswer503ThenRecoverWithoutRestart(t *testing.T) {
	f := newBearerFixture(t, nil)
	f.idp.fail(http.StatusInternalServerError)
	tok := f.sign(f.claims())

	rec := f.do(tok)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Fatalf("got %d %q (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
			rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if logs := f.logs.String(); !strings.Contains(logs, "cannot fetch the issuer's signing keys") ||
		!strings.Contains(logs, "HTTP 500") || !strings.Contains(logs, "AADSTS90033") {
		t.Errorf("no clear log line with the status and body: %s", logs)
	}
	if _, err := f.auth.ValidateToken(context.Background(), tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("ValidateToken: %v, want ErrKeysUnavailable", err)
	}

	// Within the backoff, requests are refused without hammering the endpoint.
	hits := f.idp.discoveryHits.Load()
	for range 20 {
		if rec := f.do(tok); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d during the backoff", rec.Code)
		}
	}
	if got := f.idp.discoveryHits.Load(); got != hits {
		t.Errorf("%d fetches during the backoff, want none", got-hits)
	}

	f.idp.fail(0)
	f.clock.Advance(time.Minute)
	if rec := f.do(tok); rec.Code != http.StatusOK {
		t.Fatalf("after the endpoint came back: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(f.logs.String(), "fetched the issuer's signing keys again") {
		t.Errorf("no log line for the recovery: %s", f.logs)
	}
}

func TestKeysDownLaterCachedKeysKeepServing(t *testing.T) {
	f := newBearerFixture(t, func(o *BearerOptions) { o.KeyRefreshInterval = time.Hour })
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.idp.fail(http.StatusBadGateway)
	f.clock.Advance(2 * time.Hour) // the keys are stale: the next request refreshes them in the background
	hits := f.idp.discoveryHits.Load()
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("with the endpoint down and keys held: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, "the background refresh", func() bool {
		return f.idp.discoveryHits.Load() > hits && strings.Contains(f.logs.String(), "keys held keep serving")
	})
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("after the failed refresh: %d %s", rec.Code, rec.Body)
	}
}

func TestKeyRotationFetchesTheNewKid(t *testing.T) {
	f := newBearerFixture(t, nil)
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	f.idp.publish(idpKey{kid: "key-0", priv: idpRSAKey(0)}, idpKey{kid: "key-2", priv: idpRSAKey(2)})
	rotated := signToken(t, f.claims(), idpRSAKey(2), map[string]any{"kid": "key-2"})

	// Right after a fetch, an unknown kid waits for the interval (default 5 minutes)...
	f.clock.Advance(time.Minute)
	if rec := f.do(rotated); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unknown kid within the interval: %d, want 401", rec.Code)
	}
	// ...then fetches the keys once and is accepted.
	f.clock.Advance(5 * time.Minute)
	hits := f.idp.keysHits.Load()
	if rec := f.do(rotated); rec.Code != http.StatusOK {
		t.Fatalf("token signed with the new key: %d %s", rec.Code, rec.Body)
	}
	if got := f.idp.keysHits.Load() - hits; got != 1 {
		t.Errorf("%d JWKS fetches for the new kid, want 1", got)
	}
}

func TestUnknownKidFloodCostsOneFetch(t *testing.T) {
	f := newBearerFixture(t, nil)
	if err := f.auth.RefreshKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	flood := func() {
		var wg sync.WaitGroup
		for i := range 64 {
			tok := signToken(t, f.claims(), idpRSAKey(1), map[string]any{"kid": fmt.Sprint("forged-", i)})
			wg.Go(func() {
				if rec := f.do(tok); rec.Code != http.StatusUnauthorized {
					t.Errorf("unknown kid: %d", rec.Code)
				}
			})
		}
		wg.Wait()
	}
	hits := f.idp.keysHits.Load()
	flood()
	if got := f.idp.keysHits.Load() - hits; got != 1 {
		t.Errorf("%d JWKS fetches for a flood of unknown kids, want 1", got)
	}
	flood()
	if got := f.idp.keysHits.Load() - hits; got != 1 {
		t.Errorf("a second flood within the interval fetched again (%d fetches in all)", got)
	}
}

func TestRequestsDuringOutageAtStartShareOneFetch(t *testing.T) {
	f := newBearerFixture(t, nil)
	f.idp.setDelay(100 * time.Millisecond)
	f.idp.fail(http.StatusServiceUnavailable)
	tok := f.sign(f.claims())
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if rec := f.do(tok); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", rec.Code)
			}
		})
	}
	wg.Wait()
	if got := f.idp.discoveryHits.Load(); got != 1 {
		t.Errorf("%d discovery fetches, want 1", got)
	}
}

func TestSlowKeyEndpointIsAClean503WithinTheTimeout(t *testing.T) {
	f := newBearerFixture(t, func(o *BearerOptions) { o.KeyFetchTimeout = 100 * time.Millisecond })
	f.idp.setDelay(time.Minute)
	done := make(chan int)
	go func() { done <- f.do(f.sign(f.claims())).Code }()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request hung on a slow key endpoint")
	}
	f.idp.setDelay(0) // let the server close
}

func TestWaitingForKeysEndsWithTheRequest(t *testing.T) {
	f := newBearerFixture(t, func(o *BearerOptions) { o.KeyFetchTimeout = 300 * time.Millisecond })
	f.idp.setDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.auth.ValidateToken(ctx, f.sign(f.claims()))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the request's deadline", err)
	}
	if be := bearerErrorFor(err); be.StatusCode != http.StatusUnauthorized || be.Description != descInvalidToken {
		t.Errorf("a cancelled wait answers %d %q", be.StatusCode, be.Description)
	}
	f.idp.setDelay(0)
}

func TestKeyRemovalForgetsValidatedTokens(t *testing.T) {
	f := newBearerFixture(t, nil)
	tok := f.sign(f.claims())
	if rec := f.do(tok); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// The tenant retires key-0 (say, compromised): the cached token must not outlive it.
	f.idp.publish(idpKey{kid: "key-2", priv: idpRSAKey(2)})
	if err := f.auth.RefreshKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.auth.validator.cache.len(); n != 0 {
		t.Errorf("the cache holds %d tokens after the keys changed", n)
	}
	if rec := f.do(tok); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a token signed with a retired key: %d, want 401", rec.Code)
	}
}

func TestUnchangedKeysKeepValidatedTokens(t *testing.T) {
	f := newBearerFixture(t, nil)
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	gen := f.auth.validator.keys.generation()
	if err := f.auth.RefreshKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.auth.validator.keys.generation() != gen || f.auth.validator.cache.len() != 1 {
		t.Error("a refresh that changed nothing forgot the validated tokens")
	}
}

func TestKeySetKeepsOnlyUsableSigningKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	f := newBearerFixture(t, nil)
	f.idp.publish(
		idpKey{kid: "key-0", priv: idpRSAKey(0)},
		idpKey{kid: "enc", priv: idpRSAKey(1), jwk: map[string]any{"use": "enc"}},
		idpKey{kid: "short", priv: small},
		idpKey{kid: "", priv: idpRSAKey(2)},
		idpKey{kid: "rs512", priv: idpRSAKey(3), jwk: map[string]any{"alg": "RS512"}},
		idpKey{kid: "broken", priv: idpRSAKey(3), jwk: map[string]any{"n": "!!"}},
	)
	if err := f.auth.RefreshKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := f.auth.validator.keys.current.Load()
	for _, kid := range []string{"enc", "short", "broken"} {
		if _, ok := snap.keys[kid]; ok {
			t.Errorf("kept the unusable key %q", kid)
		}
	}
	for kid, want := range map[string]error{
		"enc":   errUnknownKey,
		"short": errUnknownKey,
		"rs512": errAlgorithm, // the JWK says RS512: an RS256 token may not use it
	} {
		key := map[string]*rsa.PrivateKey{"enc": idpRSAKey(1), "short": small, "rs512": idpRSAKey(3)}[kid]
		_, err := f.auth.ValidateToken(context.Background(), signToken(t, f.claims(), key, map[string]any{"kid": kid}))
		if !errors.Is(err, want) {
			t.Errorf("kid %s: %v, want %v", kid, err, want)
		}
	}
	if rec := f.do(f.sign(f.claims())); rec.Code != http.StatusOK {
		t.Errorf("the usable key: %d", rec.Code)
	}
}

func TestKeyFetchErrorsKeepStatusAndBody(t *testing.T) {
	f := newBearerFixture(t, nil)
	f.idp.fail(http.StatusNotFound)
	err := f.auth.RefreshKeys(context.Background())
	var he *metadataHTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || !strings.Contains(he.Body, "AADSTS90033") {
		t.Fatalf("got %v, want the status and body", err)
	}

	f.idp.fail(0)
	f.idp.publish()
	if err := f.auth.RefreshKeys(context.Background()); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Errorf("an empty JWKS: %v", err)
	}

	f.idp.publish(idpKey{kid: "key-0", priv: idpRSAKey(0)})
	f.idp.mu.Lock()
	f.idp.jwksURI = "http://" + strings.TrimPrefix(f.idp.srv.URL, "https://") + "/x/discovery/v2.0/keys"
	f.idp.mu.Unlock()
	if err := f.auth.RefreshKeys(context.Background()); err == nil || !strings.Contains(err.Error(), "no https jwks_uri") {
		t.Errorf("an http jwks_uri: %v", err)
	}
}
