package ginidentity

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// forgedToken is one row of the security table: a forged or malformed token and the precise reason it must
// be refused. Every token is otherwise valid (signed by the tenant's key unless the row is about the
// signature), so each row fails if the check it names is removed.
type forgedToken struct {
	name      string
	configure func(*BearerOptions)
	token     func(f *bearerFixture) string
	want      error
}

func forgedTokens() []forgedToken {
	tenantKey := idpRSAKey(0)
	rogueKey := idpRSAKey(1)
	kid := map[string]any{"kid": "key-0"}
	signed := func(change map[string]any, header map[string]any) func(f *bearerFixture) string {
		return func(f *bearerFixture) string {
			h := map[string]any{"kid": "key-0"}
			for k, v := range header {
				h[k] = v
			}
			return signToken(f.t, claimsWith(f.claims(), change), tenantKey, h)
		}
	}
	// raw signs the header and payload JSON exactly as given with the tenant's key.
	raw := func(header string, payload func(f *bearerFixture) string) func(f *bearerFixture) string {
		return func(f *bearerFixture) string {
			return signRaw(f.t, []byte(header), []byte(payload(f)), tenantKey, jwa.RS256)
		}
	}
	goodJSON := func(f *bearerFixture) string {
		b, _ := json.Marshal(f.claims())
		return string(b)
	}
	const rs256 = `{"typ":"JWT","alg":"RS256","kid":"key-0"}`
	good := func(f *bearerFixture) string { return f.sign(f.claims()) }
	segments := func(tok string) []string { return strings.Split(tok, ".") }
	multiTenant := func(o *BearerOptions) { o.TenantID = "organizations" }

	return []forgedToken{
		{name: "alg none without signature", want: errAlgorithm, token: func(f *bearerFixture) string {
			return b64url([]byte(`{"typ":"JWT","alg":"none","kid":"key-0"}`)) + "." + segments(good(f))[1] + "."
		}},
		{name: "alg none with the tenant's signature", want: errAlgorithm, token: func(f *bearerFixture) string {
			s := segments(good(f))
			return b64url([]byte(`{"typ":"JWT","alg":"none","kid":"key-0"}`)) + "." + s[1] + "." + s[2]
		}},
		{name: "alg NONE", want: errAlgorithm, token: func(f *bearerFixture) string {
			return b64url([]byte(`{"alg":"NONE","kid":"key-0"}`)) + "." + segments(good(f))[1] + "."
		}},
		{name: "HS256 keyed with the published RSA public key", want: errAlgorithm, token: func(f *bearerFixture) string {
			der, _ := x509.MarshalPKIXPublicKey(&tenantKey.PublicKey)
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			input := b64url([]byte(`{"typ":"JWT","alg":"HS256","kid":"key-0"}`)) + "." + segments(good(f))[1]
			return input + "." + b64url(signInput(f.t, input, secret, jwa.HS256))
		}},
		{name: "HS512 keyed with the modulus", want: errAlgorithm, token: func(f *bearerFixture) string {
			input := b64url([]byte(`{"typ":"JWT","alg":"HS512","kid":"key-0"}`)) + "." + segments(good(f))[1]
			return input + "." + b64url(signInput(f.t, input, tenantKey.PublicKey.N.Bytes(), jwa.HS512))
		}},
		{name: "PS256 by the tenant's key, not allowed", want: errAlgorithm, token: signed(nil, map[string]any{"alg": "PS256"})},
		{name: "RS512 by the tenant's key, not allowed", want: errAlgorithm, token: signed(nil, map[string]any{"alg": "RS512"})},
		{name: "valid signature by an unpublished key under a published kid", want: errSignature, token: func(f *bearerFixture) string {
			return signToken(f.t, f.claims(), rogueKey, kid)
		}},
		{name: "unpublished key under an unknown kid", want: errUnknownKey, token: func(f *bearerFixture) string {
			return signToken(f.t, f.claims(), rogueKey, map[string]any{"kid": "attacker"})
		}},
		{name: "no kid", want: errNoKeyID, token: func(f *bearerFixture) string { return signToken(f.t, f.claims(), tenantKey, nil) }},
		{name: "kid not a string", want: errMalformedToken, token: raw(`{"alg":"RS256","kid":7}`, goodJSON)},
		{name: "stripped signature", want: errSignature, token: func(f *bearerFixture) string {
			s := segments(good(f))
			return s[0] + "." + s[1] + "."
		}},
		{name: "signature segment missing", want: errMalformedToken, token: func(f *bearerFixture) string {
			s := segments(good(f))
			return s[0] + "." + s[1]
		}},
		{name: "signature truncated mid-character", want: errMalformedToken, token: func(f *bearerFixture) string {
			tok := good(f)
			return tok[:len(tok)-1]
		}},
		{name: "signature short by three bytes", want: errSignature, token: func(f *bearerFixture) string {
			s := segments(good(f))
			sig, _ := base64.RawURLEncoding.DecodeString(s[2])
			return s[0] + "." + s[1] + "." + b64url(sig[:len(sig)-3])
		}},
		{name: "signature with a line break inside", want: errMalformedToken, token: func(f *bearerFixture) string {
			tok := good(f)
			return tok[:len(tok)-10] + "\n" + tok[len(tok)-10:]
		}},
		{name: "signature of another token", want: errSignature, token: func(f *bearerFixture) string {
			s := segments(good(f))
			other := segments(f.sign(claimsWith(f.claims(), map[string]any{"uti": "other"})))
			return s[0] + "." + s[1] + "." + other[2]
		}},
		{name: "payload altered after signing", want: errSignature, token: func(f *bearerFixture) string {
			s := segments(good(f))
			payload, _ := json.Marshal(claimsWith(f.claims(), map[string]any{"scp": "ToDoList.ReadWrite Admin.All"}))
			return s[0] + "." + b64url(payload) + "." + s[2]
		}},
		{name: "expired", want: ErrTokenExpired, token: func(f *bearerFixture) string {
			return f.sign(claimsWith(f.claims(), map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()}))
		}},
		{name: "not yet valid", want: errNotYetValid, token: func(f *bearerFixture) string {
			return f.sign(claimsWith(f.claims(), map[string]any{"nbf": f.clock.Now().Add(time.Hour).Unix()}))
		}},
		{name: "no exp", want: errNoExpiry, token: signed(map[string]any{"exp": nil}, nil)},
		{name: "exp as a string", want: errMalformedClaims, token: signed(map[string]any{"exp": "99999999999"}, nil)},
		{name: "wrong audience", want: errAudience, token: signed(map[string]any{"aud": "00000003-0000-0000-c000-000000000000"}, nil)},
		{name: "v1 token with the client id as audience", want: errAudience, token: func(f *bearerFixture) string {
			return f.sign(claimsWith(f.claims(), map[string]any{"ver": "1.0", "iss": "https://sts.windows.net/" + idpTenant + "/"}))
		}},
		{name: "wrong issuer", want: errIssuer, token: signed(map[string]any{"iss": "https://login.evil.example/" + idpTenant + "/v2.0"}, nil)},
		{name: "another tenant's token on a single-tenant API", want: errIssuer, token: func(f *bearerFixture) string {
			return f.sign(claimsWith(f.claims(), map[string]any{"iss": f.idp.issuer(idpOtherTenant), "tid": idpOtherTenant}))
		}},
		{name: "tid not matching the issuer", want: errIssuer, token: signed(map[string]any{"tid": idpOtherTenant}, nil)},
		{name: "multi-tenant: tid not matching the issuer", configure: multiTenant, want: errIssuer, token: func(f *bearerFixture) string {
			return f.sign(claimsWith(f.claims(), map[string]any{"iss": f.idp.issuer(idpOtherTenant)}))
		}},
		{name: "multi-tenant: tenant outside the allowed list", want: errTenantNotAllowed,
			configure: func(o *BearerOptions) { o.TenantID = "organizations"; o.AllowedTenants = []string{idpTenant} },
			token: func(f *bearerFixture) string {
				return f.sign(claimsWith(f.claims(), map[string]any{"iss": f.idp.issuer(idpOtherTenant), "tid": idpOtherTenant}))
			}},
		{name: "no tid", want: errNoTenant, token: signed(map[string]any{"tid": nil}, nil)},
		{name: "no scp nor roles", want: errNoScopesNorRoles, token: signed(map[string]any{"scp": nil}, nil)},
		{name: "scp not a string", want: errMalformedClaims, token: signed(map[string]any{"scp": 5}, nil)},
		{name: "embedded jwk of the attacker's key", want: errForbiddenHeader, token: func(f *bearerFixture) string {
			return signToken(f.t, f.claims(), rogueKey, map[string]any{"kid": "attacker", "jwk": idpKey{kid: "attacker", priv: rogueKey}.publicJWK()})
		}},
		{name: "embedded jwk, tenant-signed", want: errForbiddenHeader, token: signed(nil, map[string]any{"jwk": idpKey{kid: "key-0", priv: tenantKey}.publicJWK()})},
		{name: "jku", want: errForbiddenHeader, token: signed(nil, map[string]any{"jku": "https://evil.example/keys"})},
		{name: "x5u", want: errForbiddenHeader, token: signed(nil, map[string]any{"x5u": "https://evil.example/cert.pem"})},
		{name: "x5c", want: errForbiddenHeader, token: signed(nil, map[string]any{"x5c": []string{"MIIBfake"}})},
		{name: "crit header", want: errForbiddenHeader, token: signed(nil, map[string]any{"crit": []string{"exp"}, "exp": 1})},
		{name: "b64 false", want: errForbiddenHeader, token: signed(nil, map[string]any{"b64": false, "crit": []string{"b64"}})},
		{name: "bad base64 in the header", want: errMalformedToken, token: func(f *bearerFixture) string {
			s := segments(good(f))
			return "eyJ!bGciOi*." + s[1] + "." + s[2]
		}},
		{name: "header not JSON", want: errMalformedToken, token: raw(`alg=RS256;kid=key-0`, goodJSON)},
		{name: "duplicate header parameter", want: errMalformedToken, token: raw(`{"alg":"none","alg":"RS256","kid":"key-0"}`, goodJSON)},
		{name: "nested-JSON bomb in the header", want: errMalformedToken,
			token: raw(`{"alg":"RS256","kid":"key-0","x":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}`, goodJSON)},
		{name: "bad base64 in the payload", want: errMalformedClaims, token: func(f *bearerFixture) string {
			input := b64url([]byte(rs256)) + ".eyJ*ZCI6I!"
			return input + "." + b64url(signInput(f.t, input, tenantKey, jwa.RS256))
		}},
		{name: "padded payload", want: errMalformedClaims, token: func(f *bearerFixture) string {
			p := []byte(goodJSON(f) + " ")
			for len(p)%3 == 0 {
				p = append(p, ' ')
			}
			input := b64url([]byte(rs256)) + "." + strings.TrimRight(b64url(p), "=") + "=="[:3-len(p)%3]
			return input + "." + b64url(signInput(f.t, input, tenantKey, jwa.RS256))
		}},
		{name: "non-canonical base64 in the payload", want: errMalformedClaims, token: func(f *bearerFixture) string {
			p := []byte(goodJSON(f))
			for len(p)%3 == 0 {
				p = append(p, ' ')
			}
			seg := []byte(b64url(p))
			seg[len(seg)-1] = nonCanonical(seg[len(seg)-1])
			input := b64url([]byte(rs256)) + "." + string(seg)
			return input + "." + b64url(signInput(f.t, input, tenantKey, jwa.RS256))
		}},
		{name: "non-JSON payload", want: errMalformedClaims, token: raw(rs256, func(*bearerFixture) string { return "hello, API" })},
		{name: "JSON array payload", want: errMalformedClaims, token: raw(rs256, func(f *bearerFixture) string { return "[" + goodJSON(f) + "]" })},
		{name: "duplicate claims", want: errMalformedClaims, token: raw(rs256, func(f *bearerFixture) string {
			return `{"aud":"00000003-0000-0000-c000-000000000000",` + goodJSON(f)[1:]
		})},
		{name: "duplicate unchecked claims", want: errMalformedClaims, token: raw(rs256, func(f *bearerFixture) string {
			return `{"xms_cc":["cp1"],"xms_cc":[],` + goodJSON(f)[1:]
		})},
		{name: "nested-JSON bomb in a claim", want: errMalformedClaims, token: raw(rs256, func(f *bearerFixture) string {
			return `{"bomb":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "," + goodJSON(f)[1:]
		})},
		{name: "invalid UTF-8 in a claim", want: errMalformedClaims, token: raw(rs256, func(f *bearerFixture) string {
			return `{"name":"Al` + "\xff" + `ce",` + goodJSON(f)[1:]
		})},
		{name: "two segments", want: errMalformedToken, token: func(f *bearerFixture) string {
			s := segments(good(f))
			return s[0] + "." + s[1]
		}},
		{name: "JWE-shaped, five segments", want: errMalformedToken, token: func(f *bearerFixture) string {
			return b64url([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"key-0"}`)) + ".a.b.c.d"
		}},
		{name: "a 1 MB token", want: errTokenTooLarge, token: func(f *bearerFixture) string {
			return b64url([]byte(`{"alg":"RS256","kid":"key-0","pad":"`+strings.Repeat("A", 1<<20)+`"}`)) + "." + segments(good(f))[1] + ".sig"
		}},
	}
}

// nonCanonical returns another base64url character decoding to the same bytes when it ends a segment: the
// same high bits, some of the low (padding) bits set.
func nonCanonical(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1]
}

func TestForgedAndMalformedTokensAreRefusedWith401(t *testing.T) {
	rows := forgedTokens()
	if len(rows) < 30 {
		t.Fatalf("the table holds %d tokens, want at least 30", len(rows))
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var got *BearerError
			f := newBearerFixture(t, func(o *BearerOptions) {
				if row.configure != nil {
					row.configure(o)
				}
				o.OnError = func(c *gin.Context, e *BearerError) { got = e; WriteBearerError(c, e) }
			})
			tok := row.token(f)
			// The token goes through a real header, as a client would send it (line breaks stay inside).
			req := httptest.NewRequest(http.MethodGet, "/api", nil)
			req.Header["Authorization"] = []string{"Bearer " + tok}
			rec := httptest.NewRecorder()
			f.engine.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d (%s), want 401", rec.Code, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
			if got == nil || !errors.Is(got, row.want) || !errors.Is(got, ErrInvalidToken) {
				t.Fatalf("refused for %v, want %v", got, row.want)
			}
			if len(tok) < 10_000 && strings.Contains(rec.Body.String()+f.logs.String(), tok) {
				t.Error("the token appears in the response or the log")
			}
		})
	}
}
