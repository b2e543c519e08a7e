package ginidentity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

func TestIDTokenValidation(t *testing.T) {
	e := entratest.Start(t)
	now := time.Now()
	const nonce = "the-nonce-this-sign-in-sent"
	alice := "a11ce000-0000-4000-8000-00000000a11c"
	good := map[string]any{
		"aud": entratest.WebAppClientID, "iss": e.URL() + "/" + entratest.ContosoTenantID + "/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": "Alice Smith", "oid": alice, "preferred_username": entratest.Alice,
		"sub": "pairwise-sub", "tid": entratest.ContosoTenantID, "ver": "2.0", "nonce": nonce,
	}
	issue := func(changes map[string]any) string {
		tok, err := e.IssueToken(claimsWith(good, changes))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	genuine := issue(nil)
	var header struct {
		Kid string `json:"kid"`
	}
	if err := decodeSegment([]byte(strings.Split(genuine, ".")[0]), &header); err != nil || header.Kid == "" {
		t.Fatalf("emulator token header: %v", err)
	}
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)

	tests := []struct {
		name      string
		authority string // tenant of the validator, default organizations
		token     string
		nonce     string
		want      error
	}{
		{name: "valid", token: genuine},
		{name: "valid, tenant authority", authority: entratest.ContosoTenantID, token: genuine},
		{name: "valid, two audiences with azp", token: issue(map[string]any{"aud": []string{entratest.WebAppClientID, "other"}, "azp": entratest.WebAppClientID})},
		{name: "empty", token: "", want: errIDTokenMissing},
		{name: "not a JWT", token: "not.a.jwt", want: errIDTokenMalformed},
		{name: "another app", token: issue(map[string]any{"aud": entratest.WebAPIClientID}), want: errIDTokenAudience},
		{name: "two audiences without azp", token: issue(map[string]any{"aud": []string{"other", entratest.WebAppClientID}}), want: errIDTokenAudience},
		{name: "azp another app", token: issue(map[string]any{"azp": entratest.DaemonClientID}), want: errIDTokenAudience},
		{name: "no aud", token: issue(map[string]any{"aud": nil}), want: errIDTokenAudience},
		{name: "another host's issuer", token: issue(map[string]any{"iss": "https://login.microsoftonline.com/" + entratest.ContosoTenantID + "/v2.0"}), want: errIDTokenIssuer},
		{name: "v1 issuer", token: issue(map[string]any{"iss": "https://sts.windows.net/" + entratest.ContosoTenantID + "/"}), want: errIDTokenIssuer},
		{name: "issuer of another tenant than tid", token: issue(map[string]any{"iss": e.URL() + "/" + entratest.FabrikamTenantID + "/v2.0"}), want: errIDTokenIssuer},
		{name: "no tid", token: issue(map[string]any{"tid": nil}), want: errIDTokenIssuer},
		{name: "another tenant, tenant authority", authority: entratest.ContosoTenantID,
			token: issue(map[string]any{"tid": entratest.FabrikamTenantID, "iss": e.URL() + "/" + entratest.FabrikamTenantID + "/v2.0"}), want: errIDTokenIssuer},
		{name: "expired", token: issue(map[string]any{"exp": now.Add(-10 * time.Minute).Unix()}), want: errIDTokenExpired},
		{name: "no exp", token: issue(map[string]any{"exp": nil}), want: errIDTokenExpired},
		{name: "nbf ahead", token: issue(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()}), want: errIDTokenNotYet},
		{name: "iat ahead", token: issue(map[string]any{"iat": now.Add(10 * time.Minute).Unix()}), want: errIDTokenNotYet},
		{name: "no iat", token: issue(map[string]any{"iat": nil}), want: errIDTokenMalformed},
		{name: "exp as a string", token: issue(map[string]any{"exp": "tomorrow"}), want: errIDTokenMalformed},
		{name: "another nonce", token: issue(map[string]any{"nonce": "another"}), want: errIDTokenNonce},
		{name: "no nonce", token: issue(map[string]any{"nonce": nil}), want: errIDTokenNonce},
		{name: "no nonce expected", token: issue(map[string]any{"nonce": nil}), nonce: "-", want: errIDTokenNonce},
		{name: "no oid", token: issue(map[string]any{"oid": nil}), want: errIDTokenSubject},
		{name: "forged signature", token: signToken(t, good, forger, map[string]any{"kid": header.Kid}), want: errIDTokenSignature},
		{name: "tampered payload", token: tamperPayload(t, genuine), want: errIDTokenSignature},
		{name: "unknown kid", token: signToken(t, good, forger, map[string]any{"kid": "forger"}), want: errIDTokenKey},
		{name: "no kid", token: signToken(t, good, forger, nil), want: errIDTokenHeader},
		{name: "key in header", token: signToken(t, good, forger, map[string]any{"kid": header.Kid, "jwk": map[string]any{"kty": "RSA"}}), want: errIDTokenHeader},
		{name: "alg none", token: b64url([]byte(`{"alg":"none","kid":"`+header.Kid+`"}`)) + "." + b64url(mustJSON(t, good)) + ".", want: errIDTokenAlgorithm},
		{name: "alg HS256", token: b64url([]byte(`{"alg":"HS256","kid":"`+header.Kid+`"}`)) + "." + b64url(mustJSON(t, good)) + "." +
			b64url(signInput(t, b64url([]byte(`{"alg":"HS256","kid":"`+header.Kid+`"}`))+"."+b64url(mustJSON(t, good)), []byte("secret"), jwa.HS256)), want: errIDTokenAlgorithm},
		{name: "PS256", token: signToken(t, good, forger, map[string]any{"kid": header.Kid, "alg": "PS256"}), want: errIDTokenAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := tt.authority
			if tenant == "" {
				tenant = "organizations"
			}
			v, err := newIDTokenValidator(e.HTTPClient(), e.Authority(tenant), entratest.WebAppClientID, DefaultClockSkew, time.Now,
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			n := nonce
			if tt.nonce == "-" {
				n = ""
			}
			claims, err := v.validate(t.Context(), tt.token, n)
			if tt.want == nil {
				if err != nil || claims["oid"] != alice {
					t.Fatalf("validate = %v, %v", claims, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidIDToken) || !errors.Is(err, ErrSignInFailed) {
				t.Fatalf("validate error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIDTokenKeysUnavailable(t *testing.T) {
	e := entratest.Start(t)
	tok, err := e.IssueToken(map[string]any{"aud": entratest.WebAppClientID})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	v, err := newIDTokenValidator(e.HTTPClient(), e.Authority("organizations"), entratest.WebAppClientID, DefaultClockSkew, time.Now,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.validate(t.Context(), tok, "n"); !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidIDToken) {
		t.Fatalf("validate with the issuer down = %v, want ErrKeysUnavailable", err)
	}
}

func tamperPayload(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	var claims map[string]any
	if err := decodeSegment([]byte(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	claims["name"] = "Mallory"
	return parts[0] + "." + b64url(mustJSON(t, claims)) + "." + parts[2]
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
