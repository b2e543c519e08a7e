package ginidentity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// acqRecorder is an MSAL cache: what Replace loads into it, and what Export takes from it.
type acqRecorder struct {
	loaded [][]byte
	data   []byte
}

func (r *acqRecorder) Unmarshal(b []byte) error {
	r.loaded = append(r.loaded, bytes.Clone(b))
	return nil
}
func (r *acqRecorder) Marshal() ([]byte, error) { return r.data, nil }

// acqBareAcquirer is an acquirer for the cache adapter's tests: no network is involved.
func acqBareAcquirer(t *testing.T, store tokencache.Store, now func() time.Time) *TokenAcquirer {
	t.Helper()
	cfg := &Config{AzureAd: AzureAdOptions{Instance: "https://login.microsoftonline.com/", TenantID: entratest.ContosoTenantID,
		ClientID: entratest.WebAppClientID, ClientSecret: "s"}}
	return acqNew(t, cfg, &AcquirerOptions{Store: store, Now: now})
}

// acqPartition is an MSAL partition with one access token and, optionally, a refresh token.
func acqPartition(target string, expires time.Time, refresh bool) []byte {
	p := map[string]any{"AccessToken": map[string]any{"k1": map[string]any{"home_account_id": "u.t", "secret": "at-secret",
		"target": target, "cached_at": "1700000000", "expires_on": strconv.FormatInt(expires.Unix(), 10), "realm": "t"}}}
	if refresh {
		p["RefreshToken"] = map[string]any{"r1": map[string]any{"home_account_id": "u.t", "secret": "rt-secret"}}
	}
	b, _ := json.Marshal(p)
	return b
}

func TestMSALCacheReplace(t *testing.T) {
	store, _ := tokencache.NewMemory(tokencache.MemoryOptions{})
	a := acqBareAcquirer(t, store, nil)
	ctx := context.Background()
	alice := acqPartition("scope.a", time.Now().Add(time.Hour), true)
	if err := store.Set(ctx, "alice", alice, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	for _, naive := range []bool{false, true} {
		c := a.newCache(nil)
		c.naive = naive
		var r acqRecorder
		if err := c.Replace(ctx, &r, cache.ReplaceHints{PartitionKey: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Replace(ctx, &r, cache.ReplaceHints{PartitionKey: "bob"}); err != nil {
			t.Fatal(err)
		}
		switch {
		case !naive && (len(r.loaded) != 2 || string(r.loaded[1]) != "{}"):
			t.Errorf("a miss did not reset MSAL's memory: loaded %q", r.loaded)
		case naive && len(r.loaded) != 1:
			t.Errorf("naive: %d loads", len(r.loaded))
		}
		if key, data, missed := c.observed(); key != "bob" || data != nil || !missed {
			t.Errorf("observed %q %q %t", key, data, missed)
		}
		if len(r.loaded) > 0 && !bytes.Equal(r.loaded[0], alice) {
			t.Errorf("alice's partition loaded as %s", r.loaded[0])
		}
	}

	t.Run("an empty key is a miss", func(t *testing.T) {
		var r acqRecorder
		if err := a.newCache(nil).Replace(ctx, &r, cache.ReplaceHints{}); err != nil || string(r.loaded[0]) != "{}" {
			t.Errorf("Replace(\"\"): %v, loaded %q", err, r.loaded)
		}
	})

	t.Run("a store error is an error", func(t *testing.T) {
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		err := a.newCache(nil).Replace(canceled, &acqRecorder{}, cache.ReplaceHints{PartitionKey: "alice"})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "read the token cache") {
			t.Errorf("error %v", err)
		}
	})

	t.Run("force refresh hides the access tokens for the scopes", func(t *testing.T) {
		var r acqRecorder
		c := a.newCache([]string{"SCOPE.A"})
		if err := c.Replace(ctx, &r, cache.ReplaceHints{PartitionKey: "alice"}); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(r.loaded[0], []byte("at-secret")) || !bytes.Contains(r.loaded[0], []byte("rt-secret")) {
			t.Errorf("loaded %s", r.loaded[0])
		}
		if _, data, _ := c.observed(); !bytes.Equal(data, alice) {
			t.Error("the observed bytes are not the store's")
		}
		r = acqRecorder{}
		if err := a.newCache([]string{"other.scope"}).Replace(ctx, &r, cache.ReplaceHints{PartitionKey: "alice"}); err != nil || !bytes.Contains(r.loaded[0], []byte("at-secret")) {
			t.Errorf("forcing other scopes hid this token: %v %s", err, r.loaded[0])
		}
	})
}

func TestMSALCacheExport(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	store, _ := tokencache.NewMemory(tokencache.MemoryOptions{Clock: func() time.Time { return now }})
	a := acqBareAcquirer(t, store, nil)
	a.now = func() time.Time { return now }
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		data     []byte
		wantKept bool
		wantExp  time.Time
	}{
		{"user partition: the cache lifetime", acqPartition("s", now.Add(time.Hour), true), true, now.Add(DefaultUserCacheLifetime)},
		{"app partition: its last access token", acqPartition("s", now.Add(time.Hour), false), true, now.Add(time.Hour)},
		{"nothing usable: deleted", acqPartition("s", now.Add(-time.Hour), false), false, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			exp, keep := a.partitionExpiry(c.data)
			if keep != c.wantKept || (keep && !exp.Equal(c.wantExp)) {
				t.Errorf("expiry %v keep %t, want %v %t", exp, keep, c.wantExp, c.wantKept)
			}
			_ = store.Set(ctx, "p", []byte("old"), now.Add(time.Hour))
			if err := a.newCache(nil).Export(ctx, &acqRecorder{data: c.data}, cache.ExportHints{PartitionKey: "p"}); err != nil {
				t.Fatal(err)
			}
			got, err := store.Get(ctx, "p")
			if c.wantKept && !bytes.Equal(got, c.data) || !c.wantKept && err == nil {
				t.Errorf("stored %s, %v", got, err)
			}
		})
	}

	t.Run("an empty key writes nothing", func(t *testing.T) {
		if err := a.newCache(nil).Export(ctx, &acqRecorder{data: []byte(`{"x":1}`)}, cache.ExportHints{}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(ctx, ""); err == nil {
			t.Error("something was stored under the empty key")
		}
	})

	t.Run("a user removed during the call stays removed", func(t *testing.T) {
		c := a.newCache(nil)
		if err := a.RemoveUser(ctx, "u.t"); err != nil {
			t.Fatal(err)
		}
		if err := c.Export(ctx, &acqRecorder{data: acqPartition("s", now.Add(time.Hour), true)}, cache.ExportHints{PartitionKey: "u.t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(ctx, "u.t"); !errors.Is(err, tokencache.ErrNotFound) {
			t.Errorf("the call that started before RemoveUser wrote the partition back: %v", err)
		}
		if err := a.newCache(nil).Export(ctx, &acqRecorder{data: acqPartition("s", now.Add(time.Hour), true)}, cache.ExportHints{PartitionKey: "u.t"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(ctx, "u.t"); err != nil {
			t.Errorf("a call that started after RemoveUser (a new sign-in) could not write: %v", err)
		}
	})
}

func TestRewritePartition(t *testing.T) {
	exp := time.Unix(1_800_000_000, 0)
	data := acqPartition("api://x/Read api://x/Write", exp, true)
	got, err := rewritePartition(data, partitionRewrite{shift: 3600})
	if err != nil {
		t.Fatal(err)
	}
	var p msalPartition
	if err := json.Unmarshal(got, &p); err != nil {
		t.Fatal(err)
	}
	if at := p.AccessToken["k1"]; int64(at.ExpiresOn) != exp.Unix()+3600 || len(p.RefreshToken) != 1 {
		t.Errorf("shifted partition %s", got)
	}
	if !bytes.Contains(got, []byte(`"cached_at":"1700003600"`)) {
		t.Errorf("cached_at not shifted: %s", got)
	}
	for _, c := range []struct {
		scopes []string
		drop   bool
	}{{[]string{"API://X/READ"}, true}, {[]string{"api://x/Read", "api://x/Write"}, true}, {[]string{"api://x/Delete"}, false}} {
		got, err := rewritePartition(data, partitionRewrite{dropScopes: c.scopes})
		if err != nil {
			t.Fatal(err)
		}
		if dropped := !bytes.Contains(got, []byte("at-secret")); dropped != c.drop {
			t.Errorf("scopes %v: dropped %t", c.scopes, dropped)
		}
	}
	if _, err := rewritePartition([]byte("not json"), partitionRewrite{shift: 1}); err == nil {
		t.Error("no error for a partition that is not JSON")
	}
}
