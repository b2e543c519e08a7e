package ginidentity

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"testing"
	"time"
)

func TestCachedTokenSkipsTheSignatureButNotTheLifetime(t *testing.T) {
	f := newBearerFixture(t, nil)
	tok := f.sign(f.claims())
	first, err := f.auth.ValidateToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the held key for another one under the same kid and generation: only a cache hit still passes.
	snap := f.auth.validator.keys.current.Load()
	swapped := *snap
	swapped.keys = map[string]publishedKey{"key-0": {key: &idpRSAKey(1).PublicKey}}
	f.auth.validator.keys.current.Store(&swapped)
	again, err := f.auth.ValidateToken(context.Background(), tok)
	if err != nil || again != first {
		t.Fatalf("the second validation did not come from the cache: %v", err)
	}
	if _, err := f.auth.ValidateToken(context.Background(), f.sign(claimsWith(f.claims(), map[string]any{"uti": "new"}))); !errors.Is(err, errSignature) {
		t.Fatalf("an uncached token was not verified: %v", err)
	}

	// The lifetime is checked on every hit.
	f.clock.Advance(time.Hour + 6*time.Minute)
	if _, err := f.auth.ValidateToken(context.Background(), tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("an expired cached token: %v, want ErrTokenExpired", err)
	}
	f.clock.Advance(-3 * time.Hour)
	if _, err := f.auth.ValidateToken(context.Background(), tok); !errors.Is(err, errNotYetValid) {
		t.Fatalf("a cached token before its nbf: %v, want errNotYetValid", err)
	}
}

func TestRefusedTokensAreNotCached(t *testing.T) {
	f := newBearerFixture(t, nil)
	for _, change := range []map[string]any{{"aud": "other"}, {"exp": f.clock.Now().Add(-time.Hour).Unix()}, {"scp": nil}} {
		if _, err := f.auth.ValidateToken(context.Background(), f.sign(claimsWith(f.claims(), change))); err == nil {
			t.Fatalf("accepted %v", change)
		}
	}
	if n := f.auth.validator.cache.len(); n != 0 {
		t.Errorf("%d refused tokens cached", n)
	}
}

func TestValidatedTokenCacheHoldsItsBoundUnderAFlood(t *testing.T) {
	const bound = 16
	f := newBearerFixture(t, func(o *BearerOptions) { o.ValidatedTokenCacheSize = bound })
	for i := range 10 * bound {
		tok := f.sign(claimsWith(f.claims(), map[string]any{"uti": fmt.Sprint(i)}))
		if _, err := f.auth.ValidateToken(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
		if n := f.auth.validator.cache.len(); n > bound {
			t.Fatalf("after %d tokens the cache holds %d, over its bound of %d", i+1, n, bound)
		}
	}
}

func TestValidatedTokensKeepsTokensInUse(t *testing.T) {
	c := newValidatedTokens(4)
	hot := &Claims{rawToken: "hot"}
	c.put("hot", hot, 1)
	for i := range 20 {
		tok := fmt.Sprint("cold-", i)
		c.put(tok, &Claims{rawToken: tok}, 1)
		if _, ok := c.get("hot", 1); !ok {
			t.Fatalf("the token in use was evicted after %d others", i+1)
		}
	}
	if c.len() > 4 {
		t.Errorf("holds %d entries, bound 4", c.len())
	}
}

func TestValidatedTokensConfirmsHitsAndGenerations(t *testing.T) {
	c := newValidatedTokens(8)
	c.put("a", &Claims{rawToken: "a"}, 1)
	if _, ok := c.get("a", 2); ok {
		t.Error("a token validated with other keys was a hit")
	}
	// A hash collision can only miss: the entry names its token.
	c.mu.Lock()
	c.cur[maphash.String(c.seed, "b")] = cachedToken{claims: &Claims{rawToken: "a"}, keyGeneration: 1}
	c.mu.Unlock()
	if _, ok := c.get("b", 1); ok {
		t.Error("an entry for another token answered")
	}
	c.clear()
	if _, ok := c.get("a", 1); ok || c.len() != 0 {
		t.Error("clear kept entries")
	}
}

func TestDisabledCacheValidatesEveryTime(t *testing.T) {
	f := newBearerFixture(t, func(o *BearerOptions) { o.ValidatedTokenCacheSize = -1 })
	tok := f.sign(f.claims())
	if _, err := f.auth.ValidateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if f.auth.validator.cache != nil {
		t.Fatal("a negative size left a cache")
	}
	snap := *f.auth.validator.keys.current.Load()
	snap.keys = map[string]publishedKey{"key-0": {key: &idpRSAKey(1).PublicKey}}
	f.auth.validator.keys.current.Store(&snap)
	if _, err := f.auth.ValidateToken(context.Background(), tok); !errors.Is(err, errSignature) {
		t.Fatalf("without a cache the token was not verified again: %v", err)
	}
}

func TestIssuerTemplate(t *testing.T) {
	for issuer, want := range map[string][2]string{
		"https://login.microsoftonline.com/" + idpTenant + "/v2.0": {"https://login.microsoftonline.com/{tenantid}/v2.0", idpTenant},
		"https://sts.windows.net/" + idpTenant + "/":               {"https://sts.windows.net/{tenantid}/", idpTenant},
		"https://127.0.0.1:8443/" + idpTenant + "/v2.0":            {"https://127.0.0.1:8443/{tenantid}/v2.0", idpTenant},
		"https://login.microsoftonline.com/{tenantid}/v2.0":        {"https://login.microsoftonline.com/{tenantid}/v2.0", ""},
		"https://issuer.example":                                   {"https://issuer.example", ""},
	} {
		tpl, tenant := issuerTemplate(issuer)
		if tpl != want[0] || tenant != want[1] {
			t.Errorf("issuerTemplate(%s) = %s, %s; want %s, %s", issuer, tpl, tenant, want[0], want[1])
		}
	}
	for _, tc := range []struct {
		template, iss, tid string
		want               bool
	}{
		{"https://h/{tenantid}/v2.0", "https://h/t1/v2.0", "t1", true},
		{"https://h/{tenantid}/v2.0", "https://h/t1/v2.0", "t2", false},
		{"https://h/{tenantid}/v2.0", "https://h/t1/v2.0x", "t1", false},
		{"https://h/{tenantid}/v2.0", "https://h/t1/v2.", "t1", false},
		{"https://h/{tenantid}/v2.0", "https://h/t1/t1/v2.0", "t1/t1", true}, // Entra never issues a tid with a slash; the template still matches literally
		{"https://h/t1/v2.0", "https://h/t1/v2.0", "t1", true},
		{"", "", "t1", false},
	} {
		if got := issuerMatches(tc.template, tc.iss, tc.tid); got != tc.want {
			t.Errorf("issuerMatches(%s, %s, %s) = %v", tc.template, tc.iss, tc.tid, got)
		}
	}
}

func TestOnlyHeadersOfValidTokensAreRemembered(t *testing.T) {
	f := newBearerFixture(t, nil)
	held := func() int {
		if m := f.auth.validator.headers.m.Load(); m != nil {
			return len(*m)
		}
		return 0
	}
	forged := signToken(t, f.claims(), idpRSAKey(1), map[string]any{"kid": "key-0"})
	if _, err := f.auth.ValidateToken(context.Background(), forged); !errors.Is(err, errSignature) {
		t.Fatal(err)
	}
	expired := f.sign(claimsWith(f.claims(), map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()}))
	if _, err := f.auth.ValidateToken(context.Background(), expired); !errors.Is(err, ErrTokenExpired) {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("%d headers remembered from refused tokens", n)
	}
	if _, err := f.auth.ValidateToken(context.Background(), f.sign(f.claims())); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 1 {
		t.Fatalf("%d headers remembered after a valid token, want 1", n)
	}
	// The remembered header does not let a forged signature under it through.
	if _, err := f.auth.ValidateToken(context.Background(), signToken(t, claimsWith(f.claims(), map[string]any{"uti": "x"}), idpRSAKey(1), map[string]any{"kid": "key-0"})); !errors.Is(err, errSignature) {
		t.Fatalf("a forged token under a remembered header: %v", err)
	}
	for i := range 2 * maxVerifiedHeaders {
		f.auth.validator.headers.add([]byte(fmt.Sprint("header-", i)), joseHeader{})
	}
	if n := held(); n > maxVerifiedHeaders {
		t.Errorf("%d headers remembered, bound %d", n, maxVerifiedHeaders)
	}
}
