package ginidentity

import (
	"bytes"
	"errors"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// Each test here shows one of MSAL Go v1.10.1's cache defects with MSAL used as documented (the naive
// sub-test, which asserts that the defect shows), and that the acquirer's workaround removes it. The false
// misses of a shared client are shown by TestConcurrentUsersNeverGetAnotherUsersToken.

// TestDefectOnBehalfOfWithCache: with WithCache, MSAL's on-behalf-of fails or cannot serve its cached token:
// its partitioned manager cannot load what the store gives it (not even "{}"), and the export after the
// call receives the main manager, not the on-behalf-of partition.
func TestDefectOnBehalfOfWithCache(t *testing.T) {
	for _, naive := range []bool{true, false} {
		t.Run(map[bool]string{true: "naive", false: "kit"}[naive], func(t *testing.T) {
			e := entratest.Start(t)
			a, reqs := acqWebAPI(t, e, nil, nil)
			a.naive.oboWithCache = naive
			alice := acqCallerContext(t, e, entratest.Alice, 0)
			first, err1 := a.TokenForUser(alice, graphUserRead)
			second, err2 := a.TokenForUser(alice, graphUserRead)
			cached := err1 == nil && err2 == nil && second.AccessToken == first.AccessToken && second.FromCache && reqs.get("token") == 1
			t.Logf("first call: %v; second call: %v, from cache %t; %d token requests", err1, err2, second.FromCache, reqs.get("token"))
			if naive && cached {
				t.Error("MSAL's on-behalf-of with WithCache served its cached token: the defect is gone, and so is the need for the own cache")
			}
			if !naive && !cached {
				t.Error("the second on-behalf-of call for the same incoming token did not come from the cache")
			}
		})
	}
}

// TestDefectRemoveAccount: MSAL's RemoveAccount exports under the partition key "", never touching the
// user's partition: the user stays signed in for token acquisition.
func TestDefectRemoveAccount(t *testing.T) {
	for _, naive := range []bool{true, false} {
		t.Run(map[bool]string{true: "naive", false: "kit"}[naive], func(t *testing.T) {
			e := entratest.Start(t)
			a, _ := acqWebApp(t, e, nil)
			a.naive.removeAccount = naive
			a.naive.noIndex = naive // MSAL alone decides
			red := acqSignIn(t, e, a, entratest.Alice, apiRead)
			ctx := acqUserContext(t, e, entratest.Alice)
			if err := a.RemoveUser(ctx, red.HomeAccountID); err != nil {
				t.Fatal(err)
			}
			_, storeErr := a.store.Get(ctx, red.HomeAccountID)
			_, err := a.TokenForUser(ctx, apiRead)
			var ire *InteractionRequiredError
			signedOut := storeErr != nil && errors.As(err, &ire)
			if naive && signedOut {
				t.Error("MSAL's RemoveAccount removed the user's partition: the defect is gone")
			}
			if !naive && !signedOut {
				t.Errorf("after RemoveUser: partition read %v, token call %v", storeErr, err)
			}
		})
	}
}

// TestDefectReplaceWithoutReset: a Replace that leaves MSAL's memory as it is when the store has no
// partition makes one client export the previous user's tokens under the next user's key.
func TestDefectReplaceWithoutReset(t *testing.T) {
	for _, naive := range []bool{true, false} {
		t.Run(map[bool]string{true: "naive", false: "kit"}[naive], func(t *testing.T) {
			e := entratest.Start(t)
			a, _ := acqWebApp(t, e, nil)
			a.naive.noReset = naive
			ctx := acqContext(t)
			cache := a.newCache(nil) // one client, one cache, as MSAL's samples use them
			client, err := a.newClient(a.creds[0], cache)
			if err != nil {
				t.Fatal(err)
			}
			for _, user := range []string{entratest.Alice, entratest.Bob} {
				verifier, challenge := acqPKCE()
				u := acqAuthorizeURL(t, a, AuthorizeRequest{Scopes: apiRead, State: "s", CodeChallenge: challenge, ResponseMode: "query"})
				code := acqBrowse(t, e, u.String(), user, "s")
				if _, err := client.AcquireTokenByAuthCode(ctx, code, acqRedirect, apiRead, confidential.WithChallenge(verifier)); err != nil {
					t.Fatal(err)
				}
			}
			bobs, err := a.store.Get(ctx, acqHomeAccountID(e, entratest.Bob))
			if err != nil {
				t.Fatal(err)
			}
			leaked := bytes.Contains(bobs, []byte(acqObjectID(e, entratest.Alice)))
			if naive && !leaked {
				t.Error("bob's partition does not hold alice's tokens: the defect is gone")
			}
			if !naive && leaked {
				t.Error("bob's partition holds alice's tokens")
			}
		})
	}
}
