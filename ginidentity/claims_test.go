package ginidentity

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestNewClaimsAccessors(t *testing.T) {
	exp := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	v2 := NewClaims(map[string]any{
		"oid": idpUserOID, "tid": idpTenant, "sub": "pairwise", "name": "Alice Smith",
		"preferred_username": "alice@contoso.example", "scp": "ToDoList.Read  ToDoList.ReadWrite",
		"roles": []any{"Admin"}, "azp": idpCallerID, "iss": "https://login.example/" + idpTenant + "/v2.0",
		"aud": idpAPIClientID, "ver": "2.0", "exp": float64(exp.Unix()),
	}, "the.raw.token")
	for got, want := range map[string]string{
		v2.ObjectID(): idpUserOID, v2.TenantID(): idpTenant, v2.Subject(): "pairwise", v2.Name(): "Alice Smith",
		v2.PreferredUsername(): "alice@contoso.example", v2.ClientID(): idpCallerID, v2.RawToken(): "the.raw.token",
		v2.HomeAccountID(): idpUserOID + "." + idpTenant, v2.Version(): "2.0",
		v2.Issuer(): "https://login.example/" + idpTenant + "/v2.0",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if !slices.Equal(v2.Scopes(), []string{"ToDoList.Read", "ToDoList.ReadWrite"}) || !slices.Equal(v2.Roles(), []string{"Admin"}) ||
		!slices.Equal(v2.Audience(), []string{idpAPIClientID}) || !v2.ExpiresAt().Equal(exp) {
		t.Errorf("scopes %v roles %v aud %v exp %v", v2.Scopes(), v2.Roles(), v2.Audience(), v2.ExpiresAt())
	}
	if !v2.HasScope("ToDoList.Read") || v2.HasScope("ToDoList") || !v2.HasRole("Admin") || v2.IsAppOnly() {
		t.Error("HasScope, HasRole or IsAppOnly is wrong for a delegated token")
	}

	v1 := NewClaims(map[string]any{"appid": idpCallerID, "upn": "bob@contoso.example", "scp": "user_impersonation"}, "")
	if v1.ClientID() != idpCallerID || v1.PreferredUsername() != "bob@contoso.example" {
		t.Errorf("v1.0 token: client %q user %q", v1.ClientID(), v1.PreferredUsername())
	}

	for name, tc := range map[string]struct {
		claims  map[string]any
		appOnly bool
	}{
		"idtyp app":                   {map[string]any{"idtyp": "app", "roles": []any{"Read.All"}}, true},
		"idtyp user":                  {map[string]any{"idtyp": "user", "oid": "x", "sub": "x"}, false},
		"no idtyp, oid = sub, no scp": {map[string]any{"oid": "sp", "sub": "sp", "roles": []any{"Read.All"}}, true},
		"ID token with roles":         {map[string]any{"oid": "u", "sub": "pairwise", "roles": []any{"Admin"}}, false},
		"no idtyp, with scp":          {map[string]any{"oid": "x", "sub": "x", "scp": "Read"}, false},
	} {
		if got := NewClaims(tc.claims, "").IsAppOnly(); got != tc.appOnly {
			t.Errorf("%s: IsAppOnly %v", name, got)
		}
	}

	var none *Claims
	if none.ObjectID() != "" || none.Scopes() != nil || none.HasScope("x") || none.IsAppOnly() || none.HomeAccountID() != "" {
		t.Error("a nil *Claims is not empty")
	}
	if _, ok := none.Get("oid"); ok {
		t.Error("a nil *Claims has claims")
	}
}

func TestClaimsAreImmutable(t *testing.T) {
	raw := map[string]any{"scp": "Read", "groups": []any{"g1", "g2"}, "nested": map[string]any{"k": "v"}}
	cl := NewClaims(raw, "")
	raw["scp"] = "Write"
	cl.Scopes()[0] = "Changed"
	g, _ := cl.Get("groups")
	g.([]any)[0] = "changed"
	n, _ := cl.Get("nested")
	n.(map[string]any)["k"] = "changed"
	if cl.Scopes()[0] != "Read" {
		t.Error("the scopes changed")
	}
	if g, _ := ClaimAs[[]string](cl, "groups"); !slices.Equal(g, []string{"g1", "g2"}) {
		t.Errorf("groups changed: %v", g)
	}
	if n, _ := cl.Get("nested"); n.(map[string]any)["k"] != "v" {
		t.Error("a nested claim changed")
	}
}

func TestClaimAs(t *testing.T) {
	cl := NewClaims(map[string]any{"n": float64(42), "f": 1.5, "s": "x", "list": []any{"a", "b"}, "mixed": []any{"a", 1.0},
		"iat": float64(1772366400)}, "")
	if v, ok := ClaimAs[string](cl, "s"); !ok || v != "x" {
		t.Error("string")
	}
	if v, ok := ClaimAs[int64](cl, "n"); !ok || v != 42 {
		t.Error("int64")
	}
	if v, ok := ClaimAs[int](cl, "n"); !ok || v != 42 {
		t.Error("int")
	}
	if _, ok := ClaimAs[int](cl, "f"); ok {
		t.Error("1.5 converted to an int")
	}
	if v, ok := ClaimAs[float64](cl, "f"); !ok || v != 1.5 {
		t.Error("float64")
	}
	if v, ok := ClaimAs[[]string](cl, "list"); !ok || !slices.Equal(v, []string{"a", "b"}) {
		t.Error("[]string")
	}
	if _, ok := ClaimAs[[]string](cl, "mixed"); ok {
		t.Error("a mixed array converted to []string")
	}
	if v, ok := ClaimAs[time.Time](cl, "iat"); !ok || v.Unix() != 1772366400 {
		t.Error("time.Time")
	}
	if _, ok := ClaimAs[string](cl, "n"); ok {
		t.Error("a number converted to a string")
	}
	if _, ok := ClaimAs[string](cl, "missing"); ok {
		t.Error("a missing claim")
	}
}

func TestClaimsOfAValidatedTokenDecodeTheRestOnDemand(t *testing.T) {
	f := newBearerFixture(t, nil)
	cl, err := f.auth.ValidateToken(context.Background(), f.sign(claimsWith(f.claims(), map[string]any{
		"xms_cc": []string{"cp1"}, "wids": []string{"b79fbf4d-3ef9-4689-8143-76b194e85509"}})))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ClaimAs[[]string](cl, "xms_cc"); !ok || !slices.Equal(v, []string{"cp1"}) {
		t.Errorf("xms_cc = %v", v)
	}
	if v, ok := cl.Get("oid"); !ok || v != idpUserOID {
		t.Errorf("Get(oid) = %v", v)
	}
	if v, ok := ClaimAs[int64](cl, "exp"); !ok || v != f.clock.Now().Add(time.Hour).Unix() {
		t.Errorf("exp = %v", v)
	}
	if cl.PreferredUsername() != "alice@contoso.example" || cl.ClientID() != idpCallerID || cl.RawToken() == "" ||
		!cl.ExpiresAt().Equal(f.clock.Now().Add(time.Hour)) {
		t.Errorf("typed accessors: %q %q", cl.PreferredUsername(), cl.ClientID())
	}
}

func TestClaimsInContexts(t *testing.T) {
	cl := NewClaims(map[string]any{"oid": "x"}, "")
	ctx := WithClaims(context.Background(), cl)
	if got, ok := ClaimsFromContext(ctx); !ok || got != cl {
		t.Error("ClaimsFromContext")
	}
	if _, ok := ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
	if _, ok := ClaimsFromContext(context.WithValue(context.Background(), contextKey{"claims"}, cl)); ok {
		t.Error("another key of the same shape collided with the claims key")
	}

	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	if _, ok := ClaimsFrom(c); ok {
		t.Error("claims in a fresh gin context")
	}
	setRequestClaims(c, cl)
	if got, ok := ClaimsFrom(c); !ok || got != cl {
		t.Error("ClaimsFrom after setRequestClaims")
	}
	if got, ok := ClaimsFromContext(c.Request.Context()); !ok || got != cl {
		t.Error("the request context lacks the claims")
	}
	// Code that replaces the request context keeps the claims reachable from gin.
	c2, _ := gin.CreateTestContext(httptest.NewRecorder())
	c2.Request = httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	if got, ok := ClaimsFrom(c2); !ok || got != cl {
		t.Error("ClaimsFrom does not fall back to the request context")
	}
}

// A signed-in guest's tokens are filed under the account id of the user's home tenant (client_info's
// uid.utid), not under the oid and tid of the tenant they signed in to: the session keeps uid and utid,
// and HomeAccountID prefers them.
func TestHomeAccountIDOfAGuest(t *testing.T) {
	guest := NewClaims(map[string]any{"oid": "guest-oid", "tid": "resource-tenant", "uid": "home-oid", "utid": "home-tenant"}, "")
	if got := guest.HomeAccountID(); got != "home-oid.home-tenant" {
		t.Fatalf("guest HomeAccountID = %q, want home-oid.home-tenant", got)
	}
	member := NewClaims(map[string]any{"oid": "oid", "tid": "tid"}, "")
	if got := member.HomeAccountID(); got != "oid.tid" {
		t.Fatalf("member HomeAccountID = %q, want oid.tid", got)
	}
	kept, err := sessionClaims(map[string]any{"oid": "guest-oid", "tid": "resource-tenant", "sub": "s", "name": "Guest",
		"preferred_username": "guest@example.com", "uid": "home-oid", "utid": "home-tenant"})
	if err != nil {
		t.Fatal(err)
	}
	if got := NewClaims(kept, "").HomeAccountID(); got != "home-oid.home-tenant" {
		t.Fatalf("the session lost uid/utid: HomeAccountID = %q", got)
	}
}
