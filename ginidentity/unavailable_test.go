package ginidentity

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gsessions "github.com/gorilla/sessions"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// flakySessionStore is a server-side session store that can be taken down: its calls then fail as those of
// a Redis that is not there.
type flakySessionStore struct {
	*serverSessionStore
	down atomic.Bool
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func (s *flakySessionStore) New(r *http.Request, name string) (*gsessions.Session, error) {
	if s.down.Load() {
		return gsessions.NewSession(s, name), errRefused
	}
	return s.serverSessionStore.New(r, name)
}

func (s *flakySessionStore) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	if s.down.Load() {
		return errRefused
	}
	return s.serverSessionStore.Save(r, w, sess)
}

// flakyTokenStore is a token cache that can be taken down.
type flakyTokenStore struct {
	tokencache.Store
	down atomic.Bool
}

func (s *flakyTokenStore) fail() error {
	return fmt.Errorf("test store: %w: connection refused", tokencache.ErrUnavailable)
}

func (s *flakyTokenStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.down.Load() {
		return nil, s.fail()
	}
	return s.Store.Get(ctx, key)
}

func (s *flakyTokenStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	if s.down.Load() {
		return s.fail()
	}
	return s.Store.Set(ctx, key, v, exp)
}

func (s *flakyTokenStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() {
		return s.fail()
	}
	return s.Store.Delete(ctx, key)
}

// When the session store or the token cache is down, what needs them answers 503 (a page for a browser,
// JSON for a script) without losing anything: public pages still render, nobody is sent to sign in again,
// and a sign-out waits for the stores rather than half happening.
func TestStoresUnavailable(t *testing.T) {
	e := entratest.Start(t)
	sessions := &flakySessionStore{serverSessionStore: newServerSessionStore()}
	mem, _ := tokencache.NewMemory(tokencache.MemoryOptions{})
	tokens := &flakyTokenStore{Store: mem}
	ta := newTestApp(t, testAppOptions{emulator: e, configure: func(o *WebAppOptions) {
		cfg := &Config{AzureAd: AzureAdOptions{Instance: e.Instance(), TenantID: "organizations", ClientID: entratest.WebAppClientID,
			ClientSecret: entratest.WebAppSecret}}
		acq, err := NewTokenAcquirer(cfg, &AcquirerOptions{HTTPClient: e.HTTPClient(), Store: tokens})
		if err != nil {
			t.Fatal(err)
		}
		o.TokenAcquirer, o.SessionStore = acq, sessions
	}})
	b := newTestBrowser(t, e)
	b.signIn(b.get(ta.base+"/mail"), entratest.Alice, "accept")
	if p := b.get(ta.base + "/mail"); p.status != http.StatusOK {
		t.Fatalf("/mail: %d %s", p.status, p.body)
	}
	want503 := func(what string, p *page) {
		t.Helper()
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" || p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v %s, want 503 with Retry-After", what, p.status, p.header, p.body)
		}
		if strings.Contains(p.body, "refused") || strings.Contains(p.body, "test store") {
			t.Errorf("%s: the cause is shown: %s", what, p.body)
		}
	}
	signedIn := func(what string) {
		t.Helper()
		if p := b.get(ta.base + "/"); p.body != "hello Alice Smith" {
			t.Fatalf("%s: %s, want alice still signed in", what, p.body)
		}
	}

	sessions.down.Store(true)
	p := b.get(ta.base + "/profile")
	want503("/profile, session store down", p)
	if p.byID("unavailable") == nil {
		t.Errorf("/profile: not the unavailable page: %s", p.body)
	}
	ta.wantError(ErrSessionStoreUnavailable)
	p = b.get(ta.base+"/profile", "Accept", "application/json")
	want503("/profile from a script", p)
	var body map[string]string
	if json.Unmarshal([]byte(p.body), &body) != nil || body["error"] != "temporarily_unavailable" {
		t.Errorf("/profile from a script: %s", p.body)
	}
	want503("/mail, session store down", b.get(ta.base+"/mail"))
	want503("Challenge(ErrNoUser), session store down", b.get(ta.base+"/challenge"))
	if p := b.get(ta.base + "/"); p.status != http.StatusOK || p.body != "anonymous" {
		t.Errorf("public page, session store down: %d %s", p.status, p.body)
	}
	want503("sign-out, session store down", b.get(ta.base+"/auth/signout"))
	sessions.down.Store(false)
	signedIn("session store back")

	tokens.down.Store(true)
	want503("/mail, token cache down", b.get(ta.base+"/mail"))
	if !storeUnavailable(ta.lastError()) {
		t.Errorf("recorded error %v, want one wrapping tokencache.ErrUnavailable", ta.lastError())
	}
	want503("sign-out, token cache down", b.get(ta.base+"/auth/signout"))
	signedIn("sign-out while the token cache is down")
	tokens.down.Store(false)
	if p := b.get(ta.base + "/mail"); p.status != http.StatusOK {
		t.Fatalf("/mail, token cache back: %d %s", p.status, p.body)
	}

	// A sign-in completing while a store is down fails cleanly too.
	for name, down := range map[string]*atomic.Bool{"session store": &sessions.down, "token cache": &tokens.down} {
		nb := newTestBrowser(t, e)
		resp := nb.atIdentityProvider(nb.get(ta.base+"/auth/signin?returnUrl=/"), entratest.Bob, "")
		down.Store(true)
		want503("sign-in callback, "+name+" down", nb.deliver(resp))
		down.Store(false)
	}

	if p := b.follow(b.get(ta.base + "/auth/signout")); p.status != http.StatusOK || p.body != "anonymous" {
		t.Fatalf("sign-out, stores back: %d %s", p.status, p.body)
	}
}
