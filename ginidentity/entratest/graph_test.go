package entratest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

const aliceOID = "a11ce000-0000-4000-8000-00000000a11c"

// graphResponse is an answer of the emulator's Graph.
type graphResponse struct {
	status int
	header http.Header
	body   map[string]any
}

func (g graphResponse) errorCode() string {
	e, _ := g.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func graphGet(t *testing.T, e *entratest.Emulator, path, token string) graphResponse {
	t.Helper()
	return graphDo(t, e, http.MethodGet, path, token)
}

func graphDo(t *testing.T, e *entratest.Emulator, method, path, token string) graphResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.GraphURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", "c1d2e3f4-0000-4000-8000-000000000001")
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	g := graphResponse{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &g.body); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %q", method, path, resp.StatusCode, raw)
	}
	return g
}

// userToken signs a Graph token for the user with the scopes, after edit changes its claims.
func userToken(t *testing.T, e *entratest.Emulator, user string, scopes string, edit func(map[string]any)) string {
	t.Helper()
	c, err := e.UserTokenClaims(user, entratest.WebAppClientID, entratest.GraphResource, strings.Fields(scopes)...)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(c)
	}
	tok, err := e.IssueToken(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// appToken signs an app-only Graph token for the daemon with the roles.
func appToken(t *testing.T, e *entratest.Emulator, roles ...string) string {
	t.Helper()
	c, err := e.AppTokenClaims(entratest.DaemonClientID, entratest.GraphResource, roles...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.IssueToken(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGraphAuthentication(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	other := entratest.Start(t)
	good := userToken(t, e, entratest.Alice, "User.Read", nil)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"scp":"User.Read.All"}`)) + "." + parts[2]
	hs256 := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	for _, tc := range []struct {
		name, token string
		wantStatus  int
	}{
		{"v1.0 token with the Graph URI audience", good, 200},
		{"audience with a trailing slash", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) { c["aud"] = "https://graph.microsoft.com/" }), 200},
		{"v2.0 token with Graph's app id as audience", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) {
			c["aud"], c["ver"], c["iss"] = entratest.GraphAppID, "2.0", e.URL()+"/"+entratest.ContosoTenantID+"/v2.0"
		}), 200},
		{"no token", "", 401},
		{"not a JWT", "opaque-token", 401},
		{"tampered claims", tampered, 401},
		{"HS256 header", hs256, 401},
		{"alg none", none, 401},
		{"signed by another emulator", userToken(t, other, entratest.Alice, "User.Read", nil), 401},
		{"expired", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) {
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
		}), 401},
		{"expired within the clock skew", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) {
			c["exp"] = time.Now().Add(-time.Minute).Unix()
		}), 200},
		{"not yet valid", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) {
			c["nbf"] = time.Now().Add(time.Hour).Unix()
		}), 401},
		{"no expiry", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) { delete(c, "exp") }), 401},
		{"another audience", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) { c["aud"] = entratest.WebAPIClientID }), 401},
		{"another issuer", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) { c["iss"] = "https://sts.windows.net/" + entratest.FabrikamTenantID + "/" }), 401},
		{"unknown tenant", userToken(t, e, entratest.Alice, "User.Read", func(c map[string]any) {
			c["tid"] = "99999999-0000-0000-0000-000000000000"
			c["iss"] = "https://sts.windows.net/99999999-0000-0000-0000-000000000000/"
		}), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graphGet(t, e, "/me", tc.token)
			if g.status != tc.wantStatus {
				t.Fatalf("status %d (%v), want %d", g.status, g.body, tc.wantStatus)
			}
			if tc.wantStatus != 401 {
				return
			}
			if g.errorCode() != "InvalidAuthenticationToken" {
				t.Errorf("error code %q", g.errorCode())
			}
			if h := g.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") || !strings.Contains(h, `authorization_uri="`+e.URL()+`/common/oauth2/authorize"`) {
				t.Errorf("WWW-Authenticate %q", h)
			}
		})
	}
}

func TestGraphAuthorization(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	for _, tc := range []struct {
		name, path, token string
		wantStatus        int
		wantCode          string
	}{
		{"/me with User.Read", "/me", userToken(t, e, entratest.Alice, "User.Read", nil), 200, ""},
		{"/me with a wider scope", "/me", userToken(t, e, entratest.Alice, "User.ReadWrite", nil), 200, ""},
		{"/me without a user scope", "/me", userToken(t, e, entratest.Alice, "Mail.Read", nil), 403, "Authorization_RequestDenied"},
		{"/me with an app token", "/me", appToken(t, e, "User.Read.All"), 400, "BadRequest"},
		{"/users with User.Read", "/users", userToken(t, e, entratest.Alice, "User.Read", nil), 403, "Authorization_RequestDenied"},
		{"/users with User.Read.All", "/users", userToken(t, e, entratest.Alice, "User.Read User.Read.All", nil), 200, ""},
		{"/users with the app role", "/users", appToken(t, e, "User.Read.All"), 200, ""},
		{"/users with an app token without roles", "/users", appToken(t, e), 403, "Authorization_RequestDenied"},
		{"/users with a delegated scope named like the role", "/users", userToken(t, e, entratest.Alice, "Mail.Read", func(c map[string]any) { c["roles"] = []string{"User.Read.All"} }), 403, "Authorization_RequestDenied"},
		{"/users/{upn}", "/users/" + entratest.Bob, appToken(t, e, "User.Read.All"), 200, ""},
		{"/users/{own id} with User.Read", "/users/" + aliceOID, userToken(t, e, entratest.Alice, "User.Read", nil), 200, ""},
		{"/users/{other} with User.Read", "/users/" + entratest.Bob, userToken(t, e, entratest.Alice, "User.Read", nil), 403, "Authorization_RequestDenied"},
		{"/users/{user of another tenant}", "/users/" + entratest.Carol, appToken(t, e, "User.Read.All"), 404, "Request_ResourceNotFound"},
		{"/users/{unknown}", "/users/nobody@contoso.onmicrosoft.com", appToken(t, e, "User.Read.All"), 404, "Request_ResourceNotFound"},
		{"/me/messages with Mail.Read", "/me/messages", userToken(t, e, entratest.Alice, "User.Read Mail.Read", nil), 200, ""},
		{"/me/messages without Mail.Read", "/me/messages", userToken(t, e, entratest.Alice, "User.Read", nil), 403, "ErrorAccessDenied"},
		{"/me/messages with an app token", "/me/messages", appToken(t, e, "Mail.Read"), 400, "BadRequest"},
		{"/users/{id}/messages with the app role", "/users/" + entratest.Bob + "/messages", appToken(t, e, "Mail.Read"), 200, ""},
		{"/users/{other}/messages with delegated Mail.Read", "/users/" + entratest.Bob + "/messages", userToken(t, e, entratest.Alice, "Mail.Read", nil), 403, "ErrorAccessDenied"},
		{"unknown segment", "/groups", appToken(t, e, "User.Read.All"), 400, "BadRequest"},
		{"unknown segment under /me", "/me/drive", userToken(t, e, entratest.Alice, "User.Read", nil), 400, "BadRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graphGet(t, e, tc.path, tc.token)
			if g.status != tc.wantStatus || g.errorCode() != tc.wantCode {
				t.Fatalf("status %d code %q (%v), want %d %q", g.status, g.errorCode(), g.body, tc.wantStatus, tc.wantCode)
			}
			if tc.wantCode == "" {
				return
			}
			inner, _ := g.body["error"].(map[string]any)["innerError"].(map[string]any)
			if inner["client-request-id"] != "c1d2e3f4-0000-4000-8000-000000000001" || inner["request-id"] != g.header.Get("request-id") || inner["date"] == nil {
				t.Errorf("innerError %v", inner)
			}
		})
	}
	g := graphDo(t, e, http.MethodPost, "/me", userToken(t, e, entratest.Alice, "User.Read", nil))
	if g.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /me: status %d", g.status)
	}
}

func TestGraphShapes(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	tok := userToken(t, e, entratest.Alice, "User.Read User.Read.All Mail.Read", nil)

	me := graphGet(t, e, "/me", tok)
	if ct := me.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	want := map[string]any{"@odata.context": e.GraphURL() + "/$metadata#users/$entity", "id": aliceOID,
		"displayName": "Alice Smith", "givenName": "Alice", "surname": "Smith", "mail": entratest.Alice,
		"userPrincipalName": entratest.Alice, "jobTitle": "Engineer", "mobilePhone": nil, "officeLocation": nil,
		"preferredLanguage": nil, "businessPhones": []any{}}
	if len(me.body) != len(want) {
		t.Errorf("/me has %d properties, want %d: %v", len(me.body), len(want), me.body)
	}
	for k, v := range want {
		if got, _ := json.Marshal(me.body[k]); string(got) != string(must(json.Marshal(v))) {
			t.Errorf("/me %s = %s, want %v", k, got, v)
		}
	}

	users := graphGet(t, e, "/users", tok)
	var upns []string
	for _, u := range users.body["value"].([]any) {
		upns = append(upns, u.(map[string]any)["userPrincipalName"].(string))
	}
	if strings.Join(upns, " ") != entratest.Alice+" "+entratest.Bob || users.body["@odata.context"] != e.GraphURL()+"/$metadata#users" {
		t.Errorf("/users lists %v (context %v), want contoso's users only", upns, users.body["@odata.context"])
	}
	daemon := graphGet(t, e, "/users", appToken(t, e, "User.Read.All"))
	if n := len(daemon.body["value"].([]any)); n != 2 {
		t.Errorf("daemon sees %d users of its tenant, want 2", n)
	}

	sel := graphGet(t, e, "/me?$select=displayName,MAIL", tok)
	if len(sel.body) != 3 || sel.body["displayName"] != "Alice Smith" || sel.body["mail"] != entratest.Alice ||
		sel.body["@odata.context"] != e.GraphURL()+"/$metadata#users(displayName,mail)/$entity" {
		t.Errorf("$select: %v", sel.body)
	}
	if g := graphGet(t, e, "/users?$select=id,shoeSize", tok); g.status != 400 || g.errorCode() != "BadRequest" {
		t.Errorf("$select of an unknown property: %d %v", g.status, g.body)
	}

	msgs := graphGet(t, e, "/me/messages", tok)
	list, _ := msgs.body["value"].([]any)
	if len(list) != 2 {
		t.Fatalf("alice has %d messages, want 2: %v", len(list), msgs.body)
	}
	m := list[1].(map[string]any)
	from := m["from"].(map[string]any)["emailAddress"].(map[string]any)
	if m["subject"] != "Hello from Bob Jones" || from["address"] != entratest.Bob || m["id"] == "" || m["receivedDateTime"] == nil {
		t.Errorf("message %v", m)
	}
	again := graphGet(t, e, "/me/messages", tok)
	if a, b := must(json.Marshal(again.body)), must(json.Marshal(msgs.body)); string(a) != string(b) {
		t.Error("messages change between calls")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestGraphClaimsChallenge(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	tok := userToken(t, e, entratest.Alice, "User.Read", nil)
	claims, err := e.RequireClaimsChallenge(entratest.Alice)
	if err != nil {
		t.Fatal(err)
	}

	g := graphGet(t, e, "/me", tok)
	if g.status != http.StatusUnauthorized || g.errorCode() != "InvalidAuthenticationToken" {
		t.Fatalf("status %d %v, want the claims challenge", g.status, g.body)
	}
	h := g.header.Get("WWW-Authenticate")
	want := `Bearer realm="", authorization_uri="` + e.URL() + `/common/oauth2/authorize", error="insufficient_claims", claims="` +
		base64.StdEncoding.EncodeToString([]byte(claims)) + `"`
	if h != want {
		t.Fatalf("WWW-Authenticate\n got %s\nwant %s", h, want)
	}
	// Other users and app tokens are not challenged.
	if g := graphGet(t, e, "/me", userToken(t, e, entratest.Bob, "User.Read", nil)); g.status != 200 {
		t.Errorf("bob: %d", g.status)
	}
	if g := graphGet(t, e, "/users", appToken(t, e, "User.Read.All")); g.status != 200 {
		t.Errorf("app token: %d", g.status)
	}

	// A token request carrying the claims clears the challenge; then Graph answers again.
	code := e.NewTestCode(entratest.TestCode{ClientID: entratest.WebAppClientID, RedirectURI: redirectURI, User: entratest.Alice,
		Scopes: []string{"openid", "User.Read"}})
	form := codeForm(code, "")
	form.Set("scope", "User.Read openid")
	form.Set("claims", claims)
	body := mustToken(t, e, entratest.ContosoTenantID, form)
	if g := graphGet(t, e, "/me", body["access_token"].(string)); g.status != 200 {
		t.Fatalf("after the claims were satisfied: %d %v", g.status, g.body)
	}
}

func TestGraphThroughTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := entratest.Start(t)
	app := mustToken(t, e, entratest.ContosoTenantID, ccForm(entratest.DaemonClientID, entratest.DaemonSecret, "https://graph.microsoft.com/.default"))
	if g := graphGet(t, e, "/users/"+entratest.Alice, app["access_token"].(string)); g.status != 200 || g.body["id"] != aliceOID {
		t.Fatalf("daemon reading alice: %d %v", g.status, g.body)
	}
	if g := graphGet(t, e, "/me/messages", app["access_token"].(string)); g.status != 400 {
		t.Fatalf("daemon on /me: %d %v", g.status, g.body)
	}

	b := newBrowser(t, e)
	got := b.signIn(authorizeURL(e, entratest.ContosoTenantID, map[string]string{"scope": "openid offline_access User.Read Mail.Read"}), entratest.Alice, redirectURI)
	status, body := redeem(t, e, entratest.ContosoTenantID, got.Get("code"), "", "openid User.Read Mail.Read")
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, body)
	}
	if g := graphGet(t, e, "/me/messages", body["access_token"].(string)); g.status != 200 {
		t.Fatalf("alice's mail after consent: %d %v", g.status, g.body)
	}
}
