package ginidentity

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// TestDiscoveryIsCachedAcrossClients: the acquirer makes an MSAL client per call, and MSAL caches the
// discovery documents per client: the shared HTTP client caches them instead, for DiscoveryCacheTTL.
func TestDiscoveryIsCachedAcrossClients(t *testing.T) {
	clock := &acqClock{now: time.Now()}
	e := entratest.Start(t)
	hc, reqs := acqCountingClient(e)
	a := acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret),
		&AcquirerOptions{HTTPClient: hc, Now: clock.Now, DiscoveryCacheTTL: time.Hour})
	ctx := acqContext(t)
	for range 5 {
		if _, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh()); err != nil {
			t.Fatal(err)
		}
	}
	if d, tok := reqs.get("discovery"), reqs.get("token"); d != 1 || tok != 5 {
		t.Errorf("%d discovery and %d token requests for five calls, want 1 and 5", d, tok)
	}
	clock.Add(2 * time.Hour)
	if _, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh()); err != nil {
		t.Fatal(err)
	}
	if d := reqs.get("discovery"); d != 2 {
		t.Errorf("%d discovery requests after the TTL, want 2", d)
	}
}

// TestDiscoveryFailureIsNotCached: a discovery document that could not be fetched is asked again next time.
func TestDiscoveryFailureIsNotCached(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	a := acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret), &AcquirerOptions{HTTPClient: hc})
	ctx := acqContext(t)
	e.FailEndpoint(entratest.EndpointDiscovery, http.StatusServiceUnavailable, 0)
	if _, err := a.TokenForApp(ctx, acqGraphDefault); err == nil {
		t.Fatal("a token without discovery")
	}
	e.ClearFaults()
	if _, err := a.TokenForApp(ctx, acqGraphDefault); err != nil {
		t.Fatalf("after discovery recovered: %v", err)
	}
}

// TestTokenEndpointHangIsBoundedByTheContext: a token endpoint that does not answer is a clean error when
// the caller's deadline passes, never a hang.
func TestTokenEndpointHangIsBoundedByTheContext(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	a := acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.DaemonClientID, entratest.DaemonSecret), &AcquirerOptions{HTTPClient: hc})
	if _, err := a.TokenForApp(acqContext(t), acqGraphDefault); err != nil { // discovery done
		t.Fatal(err)
	}
	e.SlowEndpoint(entratest.EndpointToken, time.Minute, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.TokenForApp(ctx, acqGraphDefault, WithForceRefresh())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("after %v: %v, want a deadline error", time.Since(start), err)
	}
}

// acqFailingStore is a store that is down.
type acqFailingStore struct{}

var errAcqStoreDown = errors.New("store is down")

func (acqFailingStore) Get(context.Context, string) ([]byte, error)          { return nil, errAcqStoreDown }
func (acqFailingStore) Set(context.Context, string, []byte, time.Time) error { return errAcqStoreDown }
func (acqFailingStore) Delete(context.Context, string) error                 { return errAcqStoreDown }

// TestStoreFailureIsAnError: when the store fails, the call fails with the store's error, and does not ask
// the user to sign in again.
func TestStoreFailureIsAnError(t *testing.T) {
	e := entratest.Start(t)
	hc, _ := acqCountingClient(e)
	web := acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.WebAppClientID, entratest.WebAppSecret),
		&AcquirerOptions{HTTPClient: hc, Store: tokencache.Store(acqFailingStore{})})
	_, err := web.TokenForUser(acqUserContext(t, e, entratest.Alice), graphUserRead)
	var ire *InteractionRequiredError
	if !errors.Is(err, errAcqStoreDown) || errors.As(err, &ire) || !strings.Contains(err.Error(), "token cache") {
		t.Errorf("TokenForUser: %v", err)
	}
	if _, err := web.TokenForApp(acqContext(t), acqGraphDefault); !errors.Is(err, errAcqStoreDown) {
		t.Errorf("TokenForApp: %v", err)
	}
	if err := web.RemoveUser(acqContext(t), "x.y"); !errors.Is(err, errAcqStoreDown) {
		t.Errorf("RemoveUser: %v", err)
	}
}
