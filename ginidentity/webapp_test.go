package ginidentity

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

func webAppConfig() *Config {
	return &Config{AzureAd: AzureAdOptions{Instance: "https://login.microsoftonline.com/", TenantID: "organizations",
		ClientID: entratest.WebAppClientID, ClientSecret: "secret"}}
}

var testSessionKey = bytes.Repeat([]byte("k"), 32)

func TestNewWebAppOptions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		cfg  func(*Config)
		opts WebAppOptions
		want []string // every problem, each naming its fix
	}{
		{name: "no session key", opts: WebAppOptions{}, want: []string{"WebAppOptions.SessionKeys is empty: set at least one secret"}},
		{name: "short session key", opts: WebAppOptions{SessionKeys: [][]byte{[]byte("short")}},
			want: []string{"WebAppOptions.SessionKeys[0] is 5 bytes long: use at least 32 random bytes"}},
		{name: "keys and generated keys", opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}, GenerateDevelopmentSessionKeys: true},
			want: []string{"WebAppOptions.GenerateDevelopmentSessionKeys is set while SessionKeys is not empty"}},
		{name: "bad response mode", opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}, ResponseMode: "fragment"},
			want: []string{`WebAppOptions.ResponseMode is "fragment": use "form_post"`}},
		{name: "bad paths", opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}, SignInPath: "auth/signin", SignOutPath: "/signin-oidc"},
			want: []string{`WebAppOptions.SignInPath "auth/signin" is not a route path`, `AzureAd:CallbackPath "/signin-oidc" is also SignOutPath: give each`}},
		{name: "route parameter in a path", cfg: func(c *Config) { c.AzureAd.CallbackPath = "/cb/:id" }, opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}},
			want: []string{`AzureAd:CallbackPath "/cb/:id" is not a route path`}},
		{name: "bad durations and names", opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}, SessionLifetime: -time.Second,
			SessionName: "my session", Scopes: []string{"User.Read", "two words"}},
			want: []string{"WebAppOptions.SessionLifetime is negative", `WebAppOptions.SessionName "my session" is not a cookie name`,
				`WebAppOptions.Scopes[1] "two words" is not a scope`}},
		{name: "forwarded headers without proxies", opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}, TrustForwardedHeaders: true},
			want: []string{"WebAppOptions.TrustedProxies is empty while TrustForwardedHeaders is set"}},
		{name: "no client id nor credential", cfg: func(c *Config) { c.AzureAd.ClientID, c.AzureAd.ClientSecret = "", "" },
			opts: WebAppOptions{SessionKeys: [][]byte{testSessionKey}}, want: []string{"AzureAd:ClientId is required", "credential"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webAppConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			tt.opts.Logger = quiet
			app, err := NewWebApp(cfg, &tt.opts)
			if err == nil || app != nil {
				t.Fatalf("NewWebApp = %v, %v; want an error", app, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}

	if _, err := NewWebApp(nil, nil); err == nil {
		t.Error("NewWebApp(nil) succeeded")
	}
	var logs logBuffer
	app, err := NewWebApp(webAppConfig(), &WebAppOptions{GenerateDevelopmentSessionKeys: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || app == nil {
		t.Fatalf("NewWebApp with generated keys: %v", err)
	}
	if !strings.Contains(logs.String(), "DEVELOPMENT session keys generated") {
		t.Errorf("no warning about generated keys: %q", logs.String())
	}
	if len(app.scopes) != 1 || app.scopes[0] != DefaultGraphScope || app.responseMode != ResponseModeFormPost ||
		app.callbackPath != DefaultCallbackPath || app.signedOutPath != DefaultSignedOutCallbackPath {
		t.Errorf("defaults: scopes %v, mode %s, callback %s, signed out %s", app.scopes, app.responseMode, app.callbackPath, app.signedOutPath)
	}
}

func TestSealer(t *testing.T) {
	clock := &testClock{now: time.Now()}
	old := bytes.Repeat([]byte("o"), 32)
	s, err := newSealer([][]byte{testSessionKey}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.seal("signin", []byte("payload"), clock.Now().Add(time.Minute))
	if got, err := s.open("signin", sealed); err != nil || string(got) != "payload" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open("signout", sealed); err == nil {
		t.Error("a value sealed for one purpose opened for another")
	}
	// Sealed with a retired key: still opens during a rotation, not after.
	retired, _ := newSealer([][]byte{old}, clock.Now)
	fromOld := retired.seal("signin", []byte("old"), clock.Now().Add(time.Minute))
	if _, err := s.open("signin", fromOld); err == nil {
		t.Error("a value sealed with another key opened")
	}
	rotating, _ := newSealer([][]byte{testSessionKey, old}, clock.Now)
	if got, err := rotating.open("signin", fromOld); err != nil || string(got) != "old" {
		t.Errorf("rotation: open = %q, %v", got, err)
	}
	for _, bad := range []string{"", "!!", sealed[:10], sealed[:len(sealed)-2] + "AA"} {
		if _, err := s.open("signin", bad); err == nil {
			t.Errorf("open(%q) succeeded", bad)
		}
	}
	clock.Advance(time.Minute)
	if _, err := s.open("signin", sealed); err == nil {
		t.Error("an expired value opened")
	}
}

func TestSessionClaims(t *testing.T) {
	id := map[string]any{"oid": "o", "tid": "t", "sub": "s", "name": "Alice", "preferred_username": "alice@contoso.com",
		"email": "alice@contoso.com", "nonce": "n", "aud": "a", "exp": 1.0, "rh": "x", "uti": "u", "iss": "https://issuer/t/v2.0"}
	kept, err := sessionClaims(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nonce", "aud", "exp", "rh", "uti"} {
		if _, ok := kept[name]; ok {
			t.Errorf("kept %s", name)
		}
	}
	if kept["email"] != "alice@contoso.com" || kept["iss"] != "https://issuer/t/v2.0" {
		t.Errorf("kept = %v", kept)
	}
	// A long list of roles is dropped before the identity claims.
	var roles []any
	for i := range 200 {
		roles = append(roles, fmt.Sprintf("Role.Number.%03d", i))
	}
	id["roles"] = roles
	if kept, err = sessionClaims(id); err != nil || kept["roles"] != nil || kept["email"] == nil {
		t.Errorf("with 200 roles: %v, %v", kept, err)
	}
	id["roles"] = roles[:3]
	if kept, err = sessionClaims(id); err != nil || len(kept["roles"].([]string)) != 3 {
		t.Errorf("with 3 roles: %v, %v", kept, err)
	}
	// An identity claim longer than a session can carry refuses the sign-in.
	id["name"] = strings.Repeat("n", maxSessionClaimBytes+1)
	if _, err := sessionClaims(id); !errors.Is(err, ErrInvalidIDToken) {
		t.Errorf("an oversized name: %v", err)
	}
}

func TestParseSessionKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(testSessionKey)
	keys, err := ParseSessionKeys(" " + k32 + " , " + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 48)))
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], testSessionKey) || len(keys[1]) != 48 {
		t.Fatalf("ParseSessionKeys = %d keys, %v", len(keys), err)
	}
	for in, want := range map[string]string{
		"":                "no session key",
		"not base64!":     "session key 0 is not base64",
		k32 + ",c2hvcnQ=": "session key 1 is 5 bytes long",
		" , ":             "no session key",
	} {
		if _, err := ParseSessionKeys(in); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), k32) {
			t.Errorf("ParseSessionKeys(%q) = %v, want %q (and never the key)", in, err, want)
		}
	}
}

// The page that posts a cross-site sign-in response once more escapes what it echoes and runs nothing but
// its own script.
func TestResubmitPage(t *testing.T) {
	app, err := NewWebApp(webAppConfig(), &WebAppOptions{SessionKeys: [][]byte{testSessionKey}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	app.RegisterRoutes(r)
	form := url.Values{"state": {`"><script>alert(1)</script>`}, "code": {"c&d"}}
	req := httptest.NewRequest(http.MethodPost, "/signin-oidc", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	body := w.Body.String()
	csp := w.Header().Get("Content-Security-Policy")
	if w.Code != http.StatusOK || !strings.Contains(body, `<form id="resubmit" method="post" action="/signin-oidc">`) ||
		strings.Contains(body, "<script>alert") || !strings.Contains(body, `value="c&amp;d"`) ||
		!strings.Contains(body, `name="ginidentity_resubmit" value="1"`) {
		t.Fatalf("resubmit page %d:\n%s", w.Code, body)
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", w.Header())
	}
	nonce := strings.TrimSuffix(strings.SplitN(csp, "'nonce-", 2)[1], "'; form-action 'self'; frame-ancestors 'none'")
	if !strings.Contains(body, `<script nonce="`+nonce+`">`) {
		t.Errorf("the script's nonce is not the CSP's %q:\n%s", nonce, body)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("the resubmit page set cookies")
	}
}
