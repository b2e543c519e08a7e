package ginidentity

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBearerToken sends arbitrary tokens through the middleware: none may panic or get an unexpected status,
// and only the genuinely signed tokens may pass. Run briefly in CI:
//
//	go test ./ginidentity -run '^$' -fuzz '^FuzzBearerToken$' -fuzztime 20s
func FuzzBearerToken(f *testing.F) {
	fx := newBearerFixture(f, nil)
	valid := map[string]bool{}
	for _, change := range []map[string]any{nil, {"ver": "1.0", "aud": "api://" + idpAPIClientID,
		"iss": "https://sts.windows.net/" + idpTenant + "/"}, {"scp": nil, "roles": []string{"Read.All"}}} {
		tok := fx.sign(claimsWith(fx.claims(), change))
		valid[tok] = true
		f.Add(tok)
	}
	for _, row := range forgedTokens() {
		if row.configure == nil {
			if tok := row.token(fx); len(tok) < 8<<10 {
				f.Add(tok)
			}
		}
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")

	f.Fuzz(func(t *testing.T, token string) {
		req := httptest.NewRequest(http.MethodGet, "/api", nil)
		req.Header["Authorization"] = []string{"Bearer " + token}
		rec := httptest.NewRecorder()
		fx.engine.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !valid[strings.TrimSpace(token)] {
				t.Fatalf("accepted a token that was never signed: %q", token)
			}
		case http.StatusUnauthorized:
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, token)
		}
	})
}
