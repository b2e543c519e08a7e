package entratest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

func getMI(t *testing.T, e *entratest.Emulator, header string, q url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ManagedIdentityEndpoint()+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != "" {
		req.Header.Set("X-IDENTITY-HEADER", header)
	}
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, m
}

func TestManagedIdentityEndpoint(t *testing.T) {
	e := entratest.Start(t)
	v := newVerifier(t, e, nil)
	mi := entratest.DefaultDirectory().Apps[3]
	if !mi.ManagedIdentity || mi.ClientID != entratest.ManagedIdentityClientID {
		t.Fatalf("the default directory's managed identity moved: %+v", mi)
	}
	query := func(kv ...string) url.Values {
		q := url.Values{"api-version": {"2019-08-01"}, "resource": {entratest.WebAPIAppIDURI}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	for name, q := range map[string]url.Values{
		"system-assigned":            query(),
		"user-assigned by client_id": query("client_id", entratest.ManagedIdentityClientID),
		"user-assigned by object_id": query("object_id", mi.ObjectID),
		"resource with /.default":    query("resource", entratest.WebAPIAppIDURI+"/.default"),
	} {
		t.Run(name, func(t *testing.T) {
			status, body := getMI(t, e, e.IdentityHeader(), q)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, body)
			}
			expiresOn, ok := body["expires_on"].(string)
			if n, err := strconv.ParseInt(expiresOn, 10, 64); !ok || err != nil || time.Unix(n, 0).Before(time.Now().Add(time.Hour)) {
				t.Errorf("expires_on = %#v, want a unix time as a string, an hour or more ahead", body["expires_on"])
			}
			if body["resource"] != q.Get("resource") || body["token_type"] != "Bearer" || body["client_id"] != entratest.ManagedIdentityClientID {
				t.Errorf("answer %v", body)
			}
			c := v.verify(t, body["access_token"].(string), entratest.WebAPIClientID, issuerV2(e, entratest.ContosoTenantID))
			if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "ToDoList.Read.All" || c["idtyp"] != "app" ||
				c["oid"] != mi.ObjectID || c["azp"] != entratest.ManagedIdentityClientID || c["azpacr"] != "2" {
				t.Errorf("claims %v", c)
			}
		})
	}

	t.Run("v1.0 resource", func(t *testing.T) {
		status, body := getMI(t, e, e.IdentityHeader(), query("resource", "https://graph.microsoft.com"))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, body)
		}
		c := v.verify(t, body["access_token"].(string), "https://graph.microsoft.com", issuerV1(entratest.ContosoTenantID))
		if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "User.Read.All" {
			t.Errorf("claims %v", c)
		}
	})

	for _, tc := range []struct {
		name   string
		header string
		q      url.Values
		status int
		error  string
	}{
		{"no identity header", "", query(), 401, "unauthorized"},
		{"wrong identity header", "guess", query(), 401, "unauthorized"},
		{"wrong api-version", e.IdentityHeader(), query("api-version", "2017-09-01"), 400, "invalid_request"},
		{"no resource", e.IdentityHeader(), query("resource", ""), 400, "invalid_request"},
		{"unknown resource", e.IdentityHeader(), query("resource", "api://nosuchapi"), 400, "invalid_resource"},
		{"unknown client_id", e.IdentityHeader(), query("client_id", "99999999-0000-0000-0000-000000000000"), 400, "invalid_request"},
		{"an app that is not a managed identity", e.IdentityHeader(), query("client_id", entratest.DaemonClientID), 400, "invalid_request"},
		{"mi_res_id", e.IdentityHeader(), query("mi_res_id", "/subscriptions/x"), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := getMI(t, e, tc.header, tc.q)
			if status != tc.status || body["error"] != tc.error || body["access_token"] != nil {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.error)
			}
		})
	}

	t.Run("fault", func(t *testing.T) {
		e.FailEndpoint(entratest.EndpointManagedIdentity, http.StatusServiceUnavailable, 0)
		defer e.ClearFaults()
		if status, _ := getMI(t, e, e.IdentityHeader(), query()); status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 while failing", status)
		}
	})
}

func TestWithIdentityHeader(t *testing.T) {
	e := entratest.Start(t, entratest.WithIdentityHeader("fixed-secret"))
	if e.IdentityHeader() != "fixed-secret" {
		t.Fatalf("IdentityHeader = %q", e.IdentityHeader())
	}
	if _, err := entratest.New(entratest.WithIdentityHeader("")); err == nil {
		t.Error("WithIdentityHeader(\"\") accepted")
	}
	if a, b := entratest.Start(t), entratest.Start(t); a.IdentityHeader() == b.IdentityHeader() || len(a.IdentityHeader()) < 20 {
		t.Errorf("default identity headers are not random secrets: %q %q", a.IdentityHeader(), b.IdentityHeader())
	}
}
