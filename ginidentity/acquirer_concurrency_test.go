package ginidentity

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// TestConcurrentUsersNeverGetAnotherUsersToken sends 1,000 concurrent token requests from 100 signed-in
// users, for two resources, and checks every token: it is for the requesting user (oid) and for the
// resource asked (aud). It also shows MSAL Go's defect this rests on: one long-lived MSAL client shared by
// concurrent requests over a partitioned store reports tokens missing that are in the store (false misses).
func TestConcurrentUsersNeverGetAnotherUsersToken(t *testing.T) {
	const users, requests = 100, 1000
	dir, names := acqManyUsers(users)
	e := entratest.Start(t, entratest.WithDirectory(dir))
	a, _ := acqWebApp(t, e, nil)
	for _, name := range names {
		acqSignIn(t, e, a, name, apiRead)
	}
	resources := []struct {
		scopes []string
		aud    string
	}{{apiRead, entratest.WebAPIClientID}, {graphUserRead, "https://graph.microsoft.com"}}

	// run sends the requests at once and returns how many failed and how many got a wrong token.
	run := func(t *testing.T) (failed, wrong int, firstErr error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range requests {
			user := names[i%users]
			res := resources[(i/users)%len(resources)]
			ctx := acqUserContext(t, e, user)
			wantOID := acqObjectID(e, user)
			wg.Go(func() {
				<-start
				tok, err := a.TokenForUser(ctx, res.scopes)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				if c := acqClaimsOf(t, tok.AccessToken); c["oid"] != wantOID || c["aud"] != res.aud {
					wrong++
					if firstErr == nil {
						firstErr = fmt.Errorf("%s asked for %s and got a token for oid %v, aud %v", user, res.aud, c["oid"], c["aud"])
					}
				}
			})
		}
		close(start)
		wg.Wait()
		return failed, wrong, firstErr
	}

	for _, c := range []struct {
		name    string
		noIndex bool
	}{{"kit", false}, {"kit, every call through MSAL", true}} {
		t.Run(c.name, func(t *testing.T) {
			a.naive.noIndex = c.noIndex
			if failed, wrong, err := run(t); failed+wrong > 0 {
				t.Fatalf("%d of %d requests failed and %d got another user's or resource's token; first: %v", failed, requests, wrong, err)
			}
		})
	}

	// The same store as another instance's (a store of the app's own): the index checks every token
	// against the store. From here on only this acquirer writes to the store.
	hc, _ := acqCountingClient(e)
	a = acqNew(t, acqConfig(e, entratest.ContosoTenantID, entratest.WebAppClientID, entratest.WebAppSecret),
		&AcquirerOptions{HTTPClient: hc, Store: a.store})
	if a.index.trusted {
		t.Fatal("an acquirer with a store of the app's own trusts its index")
	}
	t.Run("kit, shared store", func(t *testing.T) {
		for round := range 2 { // the first fills the index, the second is served from it
			if failed, wrong, err := run(t); failed+wrong > 0 {
				t.Fatalf("round %d: %d of %d requests failed and %d got another user's or resource's token; first: %v", round, failed, requests, wrong, err)
			}
		}
	})

	t.Run("naive shared client", func(t *testing.T) {
		shared, err := a.newClient(a.creds[0], a.newCache(nil))
		if err != nil {
			t.Fatal(err)
		}
		a.naive.sharedClient, a.naive.noIndex = &shared, true
		defer func() { a.naive.sharedClient = nil }()
		for round := 1; round <= 10; round++ {
			failed, wrong, err := run(t)
			t.Logf("round %d: %d of %d requests failed, %d got a wrong token; first: %v", round, failed, requests, wrong, err)
			var ire *InteractionRequiredError
			if failed > 0 && errors.As(err, &ire) {
				return // the false misses show: a signed-in user's tokens reported missing
			}
		}
		t.Error("one shared MSAL client reported no false miss in ten rounds: the defect is gone, and so is the need for a client per call")
	})
}
