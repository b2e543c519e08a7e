package ginidentity

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// configErrors returns the *ConfigErrors joined in err, failing the test if err holds anything else.
func configErrors(t *testing.T, err error) []*ConfigError {
	t.Helper()
	var out []*ConfigError
	for _, e := range flattenErrors(err) {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("error %v (%T) is not a *ConfigError", e, e)
		}
		out = append(out, ce)
	}
	return out
}

// errorMessages returns the message of each error joined in err.
func errorMessages(t *testing.T, err error) []string {
	t.Helper()
	var msgs []string
	for _, ce := range configErrors(t, err) {
		msgs = append(msgs, ce.Error())
	}
	return msgs
}

func mustLoad(t *testing.T, path string, env ...string) *Config {
	t.Helper()
	cfg, err := loadConfig(path, env)
	if err != nil {
		t.Fatalf("loadConfig(%s): %v", path, err)
	}
	return cfg
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestLoadWebAPISample(t *testing.T) {
	cfg := mustLoad(t, "../testdata/appsettings.webapi.json")
	a := cfg.AzureAd
	equal(t, "Instance", a.Instance, "https://login.microsoftonline.com/")
	equal(t, "Domain", a.Domain, "contoso.onmicrosoft.com")
	equal(t, "TenantID", a.TenantID, "aaaabbbb-0000-cccc-1111-dddd2222eeee")
	equal(t, "ClientID", a.ClientID, "11112222-bbbb-3333-cccc-4444dddd5555")
	equal(t, "Scopes.Named(Read)", a.Scopes.Named("Read"), []string{"ToDoList.Read", "ToDoList.ReadWrite"})
	equal(t, "Scopes.Named(write)", a.Scopes.Named("write"), []string{"ToDoList.ReadWrite"})
	equal(t, "Scopes.All", a.Scopes.All(), []string{"ToDoList.Read", "ToDoList.ReadWrite"})
	equal(t, "AppPermissions.Names", a.AppPermissions.Names(), []string{"Read", "Write"})
	equal(t, "AppPermissions.All", a.AppPermissions.All(), []string{"ToDoList.Read.All", "ToDoList.ReadWrite.All"})
	equal(t, "ClientCredentials", a.ClientCredentials, []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "webapi-dev-secret"}})
	equal(t, "CallbackPath (default)", a.CallbackPath, "/signin-oidc")
	equal(t, "SignedOutCallbackPath (default)", a.SignedOutCallbackPath, "/signout-callback-oidc")
	equal(t, "AuthorityURL", a.AuthorityURL(), "https://login.microsoftonline.com/aaaabbbb-0000-cccc-1111-dddd2222eeee")
	equal(t, "IsMultiTenant", a.IsMultiTenant(), false)
	equal(t, "Extra (none)", a.Extra, map[string]json.RawMessage(nil))
	graph, ok := cfg.DownstreamAPI("microsoftgraph")
	equal(t, "DownstreamAPI(microsoftgraph) found", ok, true)
	equal(t, "its URL", graph.URL(), "https://graph.microsoft.com/v1.0/me")
	equal(t, "its HTTPMethod (default)", graph.HTTPMethod, "GET")
	equal(t, "MicrosoftGraph (defaults)", cfg.MicrosoftGraph, MicrosoftGraphOptions{BaseURL: DefaultGraphBaseURL, Scopes: []string{"User.Read"}})
	if err := cfg.ValidateWebAPI(); err != nil {
		t.Errorf("ValidateWebAPI: %v", err)
	}
}

func TestLoadWebAppSample(t *testing.T) {
	cfg := mustLoad(t, "../testdata/appsettings.webapp.json")
	a := cfg.AzureAd
	equal(t, "len(ClientCredentials)", len(a.ClientCredentials), 2)
	equal(t, "ClientCredentials[1]", a.ClientCredentials[1], CredentialDescription{SourceType: SourceKeyVault,
		KeyVaultURL: "https://contoso-kv.vault.azure.net", KeyVaultCertificateName: "TodoListClientCert", Skip: true})
	equal(t, "Credentials (the skipped one left out)", a.Credentials(), []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "webapp-dev-secret"}})
	equal(t, "ClientCapabilities", a.ClientCapabilities, []string{"cp1"})
	todo, ok := cfg.DownstreamAPI("TODOLIST")
	if !ok {
		t.Fatal("DownstreamAPI(TODOLIST) not found")
	}
	equal(t, "TodoList", todo, DownstreamAPIOptions{
		BaseURL: "https://localhost:44351", RelativePath: "api/todolist",
		Scopes:     []string{"api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.Read", "api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.ReadWrite"},
		HTTPMethod: "GET", AcceptHeader: "application/json", ContentType: "application/json", ProtocolScheme: "Bearer",
	})
	equal(t, "TodoList URL", todo.URL(), "https://localhost:44351/api/todolist")
	equal(t, "MicrosoftGraph.Scopes (from a space-separated string)", cfg.MicrosoftGraph.Scopes, []string{"user.read", "mail.read"})
	if _, ok := cfg.DownstreamAPI("Missing"); ok {
		t.Error("DownstreamAPI(Missing) found")
	}
	if err := cfg.ValidateWebApp(); err != nil {
		t.Errorf("ValidateWebApp: %v", err)
	}
}

func TestLoadDaemonSample(t *testing.T) {
	cfg := mustLoad(t, "../testdata/appsettings.daemon.json")
	equal(t, "Credentials", cfg.AzureAd.Credentials(), []CredentialDescription{
		{SourceType: SourcePath, CertificateDiskPath: "certs/daemon.pfx", CertificatePassword: "pfx-dev-password"},
		{SourceType: SourceClientSecret, ClientSecret: "daemon-dev-secret"},
	})
	todo := cfg.DownstreamApis["TodoList"]
	equal(t, "TodoList URL", todo.URL(), "https://localhost:44351/api/todolist")
	equal(t, "RequestAppToken", todo.RequestAppToken, true)
	equal(t, "AcquireTokenOptions.Tenant", todo.AcquireTokenOptions.Tenant, "aaaabbbb-0000-cccc-1111-dddd2222eeee")
	equal(t, "AcquireTokenOptions.Extra", todo.AcquireTokenOptions.Extra, map[string]json.RawMessage{"PopPublicKey": json.RawMessage(`"kept-as-extra"`)})
	equal(t, "Users HttpMethod (canonical)", cfg.DownstreamApis["Users"].HTTPMethod, "GET")
	if err := cfg.ValidateDaemon(); err != nil {
		t.Errorf("ValidateDaemon: %v", err)
	}
}

func TestLoadPlaceholderTemplate(t *testing.T) {
	_, err := loadConfig("../testdata/appsettings.placeholders.json", nil)
	equal(t, "errors", errorMessages(t, err), []string{
		`../testdata/appsettings.placeholders.json:5:17: AzureAd:TenantId "Enter_the_Tenant_Info_Here" is not a tenant: use the Directory (tenant) ID from the app registration's Overview page, a domain such as contoso.onmicrosoft.com, or common or organizations`,
		`../testdata/appsettings.placeholders.json:6:17: AzureAd:ClientId "Enter_the_Application_Id_Here" is not an application (client) ID: copy the Application (client) ID, a GUID, from the app registration's Overview page`,
	})
}

func TestLoadSyntaxErrorNamesLineAndColumn(t *testing.T) {
	_, err := loadConfig("../testdata/appsettings.badsyntax.json", nil)
	msgs := errorMessages(t, err)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "../testdata/appsettings.badsyntax.json:5:5: invalid JSON: ") {
		t.Errorf("errors = %q, want one at ../testdata/appsettings.badsyntax.json:5:5", msgs)
	}
}

const envBase = `{
  "AzureAd": {
    "Instance": "https://login.microsoftonline.com/",
    "TenantId": "common",
    "clientId": "00001111-aaaa-2222-bbbb-3333cccc4444",
    "ClientCredentials": [ { "SourceType": "ClientSecret", "ClientSecret": "from-file" } ],
    "Audiences": [ "api://a" ],
    "Scopes": { "Read": [ "r" ] },
  },
  "DownstreamApis": { "TodoList": { "BaseUrl": "https://localhost:44351", "Scopes": "s" } },
}`

func TestLoadEnvironmentOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{"a value", []string{"AzureAd__ClientId=22223333-cccc-4444-dddd-5555eeee6666"}, func(t *testing.T, c *Config) {
			equal(t, "ClientID", c.AzureAd.ClientID, "22223333-cccc-4444-dddd-5555eeee6666")
		}},
		{"colon separator", []string{"AzureAd:TenantId=contoso.onmicrosoft.com"}, func(t *testing.T, c *Config) {
			equal(t, "TenantID", c.AzureAd.TenantID, "contoso.onmicrosoft.com")
		}},
		{"names are case-insensitive", []string{"AZUREAD__CLIENTID=22223333-cccc-4444-dddd-5555eeee6666"}, func(t *testing.T, c *Config) {
			equal(t, "ClientID", c.AzureAd.ClientID, "22223333-cccc-4444-dddd-5555eeee6666")
		}},
		{"the last spelling wins", []string{"AzureAd__TenantId=a.example", "azuread:tenantid=b.example"}, func(t *testing.T, c *Config) {
			equal(t, "TenantID", c.AzureAd.TenantID, "b.example")
		}},
		{"a field of an array entry", []string{"AzureAd__ClientCredentials__0__ClientSecret=from-env"}, func(t *testing.T, c *Config) {
			equal(t, "ClientCredentials", c.AzureAd.ClientCredentials, []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "from-env"}})
		}},
		{"an index past the end extends the array", []string{
			"AzureAd__ClientCredentials__1__SourceType=Path", "AzureAd__ClientCredentials__1__CertificateDiskPath=/c.pfx",
		}, func(t *testing.T, c *Config) {
			equal(t, "ClientCredentials", c.AzureAd.ClientCredentials, []CredentialDescription{
				{SourceType: SourceClientSecret, ClientSecret: "from-file"}, {SourceType: SourcePath, CertificateDiskPath: "/c.pfx"}})
		}},
		{"a gap in the indices is skipped, as .NET does", []string{"AzureAd__Audiences__3=api://d"}, func(t *testing.T, c *Config) {
			equal(t, "Audiences", c.AzureAd.Audiences, []string{"api://a", "api://d"})
		}},
		{"a new downstream API", []string{"DownstreamApis__Graph__BaseUrl=https://graph.microsoft.com/v1.0", "DownstreamApis__Graph__Scopes=User.Read Mail.Read"}, func(t *testing.T, c *Config) {
			g := c.DownstreamApis["Graph"]
			equal(t, "BaseURL", g.BaseURL, "https://graph.microsoft.com/v1.0")
			equal(t, "Scopes", g.Scopes, []string{"User.Read", "Mail.Read"})
		}},
		{"an existing downstream API, named in another case", []string{"downstreamapis__todolist__BaseUrl=https://api.contoso.com"}, func(t *testing.T, c *Config) {
			equal(t, "entries", len(c.DownstreamApis), 1)
			equal(t, "TodoList.BaseURL", c.DownstreamApis["TodoList"].BaseURL, "https://api.contoso.com")
		}},
		{"booleans from strings", []string{"AzureAd__AllowWebApiToBeAuthorizedByACL=True", "DownstreamApis__TodoList__RequestAppToken=true", "DownstreamApis__TodoList__Scopes=api://x/.default"}, func(t *testing.T, c *Config) {
			equal(t, "AllowWebAPIToBeAuthorizedByACL", c.AzureAd.AllowWebAPIToBeAuthorizedByACL, true)
			equal(t, "RequestAppToken", c.DownstreamApis["TodoList"].RequestAppToken, true)
		}},
		{"a named permission group", []string{"AzureAd__Scopes__Write__0=w"}, func(t *testing.T, c *Config) {
			equal(t, "Scopes", c.AzureAd.Scopes, PermissionSet{Groups: map[string][]string{"Read": {"r"}, "Write": {"w"}}})
		}},
		{"a string replaces the object form", []string{"AzureAd__Scopes=access_as_user other"}, func(t *testing.T, c *Config) {
			equal(t, "Scopes", c.AzureAd.Scopes, PermissionSet{Values: []string{"access_as_user", "other"}})
		}},
		{"an unknown key goes to Extra", []string{"AzureAd__SendX5C=true"}, func(t *testing.T, c *Config) {
			equal(t, "Extra", c.AzureAd.Extra, map[string]json.RawMessage{"SendX5C": json.RawMessage(`"true"`)})
		}},
		{"an empty value clears a setting", []string{"AzureAd__Audiences="}, func(t *testing.T, c *Config) {
			equal(t, "Audiences", c.AzureAd.Audiences, []string(nil))
		}},
		{"other variables are ignored", []string{"PATH=/bin", "Logging__LogLevel__Default=Debug", "AzureAdB2C__ClientId=x", "AzureAd=x", "NOEQUALS"}, func(t *testing.T, c *Config) {
			equal(t, "ClientID", c.AzureAd.ClientID, "00001111-aaaa-2222-bbbb-3333cccc4444")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfigFrom("base.json", []byte(envBase), tt.env)
			if err != nil {
				t.Fatalf("LoadConfigFrom: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadEnvironmentOnly(t *testing.T) {
	cfg := mustLoad(t, "",
		"AzureAd__TenantId=contoso.onmicrosoft.com",
		"AzureAd__ClientId=00001111-aaaa-2222-bbbb-3333cccc4444",
		"AzureAd__ClientCredentials__0__SourceType=ClientSecret",
		"AzureAd__ClientCredentials__0__ClientSecret=s3cret",
		"DownstreamApis__TodoList__BaseUrl=http://localhost:5001",
		"DownstreamApis__TodoList__Scopes__0=api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.Read",
	)
	if err := cfg.ValidateWebApp(); err != nil {
		t.Fatalf("ValidateWebApp: %v", err)
	}
	equal(t, "Instance (default)", cfg.AzureAd.Instance, DefaultInstance)
	equal(t, "Credentials", cfg.AzureAd.Credentials(), []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "s3cret"}})
	equal(t, "TodoList scopes", cfg.DownstreamApis["TodoList"].Scopes, []string{"api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.Read"})

	empty := mustLoad(t, "")
	equal(t, "IsConfigured with nothing set", empty.AzureAd.IsConfigured(), false)
	equal(t, "Instance left empty in local mode", empty.AzureAd.Instance, "")
}

func TestLoadConfigReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("AzureAd__ClientId", "22223333-cccc-4444-dddd-5555eeee6666")
	cfg, err := LoadConfig("../testdata/appsettings.webapi.json")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ClientID", cfg.AzureAd.ClientID, "22223333-cccc-4444-dddd-5555eeee6666")
}

func TestLoadEnvironmentErrors(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"AzureAd__Audiences__first=x", "environment variable AzureAd__Audiences__first: AzureAd:Audiences is an array: index it with a number from 0 to 999, like AzureAd__Audiences__0"},
		{"AzureAd__ClientCredentials__1000__ClientSecret=x", "environment variable AzureAd__ClientCredentials__1000__ClientSecret: AzureAd:ClientCredentials is an array: index it with a number from 0 to 999, like AzureAd__ClientCredentials__0"},
		{"AzureAd__ClientCredentials__-1__ClientSecret=x", "environment variable AzureAd__ClientCredentials__-1__ClientSecret: AzureAd:ClientCredentials is an array: index it with a number from 0 to 999, like AzureAd__ClientCredentials__0"},
		{"AzureAd____ClientId=x", "environment variable AzureAd____ClientId: AzureAd: has an empty name segment: separate the keys with a single __, like AzureAd__ClientId"},
		{"DownstreamApis__TodoList=x", "environment variable DownstreamApis__TodoList: DownstreamApis:TodoList must be an object, not a string: write it like { \"Name\": ... }"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := LoadConfigFrom("base.json", []byte(envBase), []string{tt.env})
			equal(t, "errors", errorMessages(t, err), []string{tt.want})
		})
	}
}

func TestLoadTypeErrors(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
	}{
		{"a number for a string", `{"AzureAd": {"TenantId": "common", "ClientId": 12345}}`, []string{
			// Reported once: not again as "AzureAd:ClientId is required".
			"t.json:1:48: AzureAd:ClientId must be a string, not a number: put the value in double quotes"}},
		{"a string for a boolean", `{"AzureAd": {"AllowWebApiToBeAuthorizedByACL": "yes"}}`, []string{
			"t.json:1:48: AzureAd:AllowWebApiToBeAuthorizedByACL must be true or false, not a string"}},
		{"an object for an array", `{"AzureAd": {"ClientCredentials": {"SourceType": "ClientSecret"}}}`, []string{
			"t.json:1:35: AzureAd:ClientCredentials must be an array, not an object: write it like [ { ... } ]"}},
		{"a string for an array entry", `{"AzureAd": {"TenantId": "common", "ClientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "ClientCredentials": ["secret"]}}`, []string{
			"t.json:1:110: AzureAd:ClientCredentials:0 must be an object, not a string: write it like { \"Name\": ... }"}},
		{"a number in Scopes", `{"AzureAd": {"Scopes": 3}}`, []string{
			`t.json:1:24: AzureAd:Scopes must be a string, an array of strings or an object of named arrays, not a number: write it like "a b", ["a", "b"] or {"Read": ["a"], "Write": ["b"]}`}},
		{"a number in a permission group", `{"AzureAd": {"AppPermissions": {"Read": ["a", 2]}}}`, []string{
			`t.json:1:41: AzureAd:AppPermissions:Read must be an array of strings or one space-separated string, not an array: write it like ["a", "b"]`}},
		{"an array for a map", `{"DownstreamApis": [{"BaseUrl": "https://x"}]}`, []string{
			`t.json:1:20: DownstreamApis must be an object, not an array: write it like { "Name": ... }`}},
		{"a number in a scope list", `{"MicrosoftGraph": {"Scopes": [1]}}`, []string{
			`t.json:1:31: MicrosoftGraph:Scopes must be an array of strings or one space-separated string, not an array: write it like ["a", "b"]`}},
		{"a number in ExtraQueryParameters", `{"AzureAd": {"ExtraQueryParameters": {"dc": 1}}}`, []string{
			`t.json:1:45: AzureAd:ExtraQueryParameters:dc must be a string, not a number: put the value in double quotes`}},
		{"a section of the wrong type", `{"AzureAd": "x", "MicrosoftGraph": true}`, []string{
			`t.json:1:13: AzureAd must be an object, not a string: write it like { "Name": ... }`,
			`t.json:1:36: MicrosoftGraph must be an object, not a boolean: write it like { "Name": ... }`}},
		{"every problem at once", "{\n\"AzureAd\": {\n\"ClientId\": true,\n\"Skip\": 1,\n\"ClientCredentials\": [{\"Skip\": \"no\", \"SourceType\": 6}]}}", []string{
			"t.json:3:13: AzureAd:ClientId must be a string, not a boolean: put the value in double quotes",
			"t.json:5:32: AzureAd:ClientCredentials:0:Skip must be true or false, not a string",
			"t.json:5:52: AzureAd:ClientCredentials:0:SourceType must be a string, not a number: put the value in double quotes",
			"t.json:2:12: AzureAd:TenantId is required: set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfigFrom("t.json", []byte(tt.json), nil)
			if cfg != nil {
				t.Errorf("LoadConfigFrom returned a config with errors")
			}
			equal(t, "errors", errorMessages(t, err), tt.want)
		})
	}
}

func TestLoadKeysAreCaseInsensitive(t *testing.T) {
	cfg, err := LoadConfigFrom("c.json", []byte(`{"azuread": {"CLIENTID": "00001111-aaaa-2222-bbbb-3333cccc4444",
		"tenantid": "common", "clientcredentials": [{"sourcetype": "clientsecret", "clientSECRET": "x"}]},
		"microsoftgraph": {"baseurl": "https://graph.microsoft.us/v1.0"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ClientID", cfg.AzureAd.ClientID, "00001111-aaaa-2222-bbbb-3333cccc4444")
	equal(t, "ClientCredentials", cfg.AzureAd.ClientCredentials, []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "x"}})
	equal(t, "Graph BaseURL", cfg.MicrosoftGraph.BaseURL, "https://graph.microsoft.us/v1.0")
}

func TestLoadKeepsUnknownKeys(t *testing.T) {
	cfg, err := LoadConfigFrom("x.json", []byte(`{
		"AzureAd": {"ClientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "TenantId": "common", "SendX5C": true, "TokenDecryptionCredentials": [{"SourceType": "AutoDecryptKeys", "Skip": false}],
			"ClientCredentials": [{"SourceType": "CustomSignedAssertion", "CustomSignedAssertionProviderName": "p",
				"CustomSignedAssertionProviderData": {"n": 1.50}}]},
		"DownstreamApis": {"A": {"BaseUrl": "https://a", "Scopes": "s", "Serializer": null}},
		"MicrosoftGraph": {"RequestAppToken": true},
		"Logging": {"LogLevel": {"Default": "Information"}}
	}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "AzureAd.Extra", cfg.AzureAd.Extra, map[string]json.RawMessage{
		"SendX5C": json.RawMessage(`true`), "TokenDecryptionCredentials": json.RawMessage(`[{"SourceType":"AutoDecryptKeys","Skip":false}]`)})
	equal(t, "credential Extra", cfg.AzureAd.ClientCredentials[0].Extra, map[string]json.RawMessage{"CustomSignedAssertionProviderData": json.RawMessage(`{"n":1.50}`)})
	equal(t, "downstream Extra", cfg.DownstreamApis["A"].Extra, map[string]json.RawMessage{"Serializer": json.RawMessage(`null`)})
	equal(t, "graph Extra", cfg.MicrosoftGraph.Extra, map[string]json.RawMessage{"RequestAppToken": json.RawMessage(`true`)})
}

func TestLoadCanonicalSourceType(t *testing.T) {
	for _, in := range []string{"ClientSecret", "clientsecret", "CLIENTSECRET", "6"} {
		cfg, err := LoadConfigFrom("s.json", []byte(`{"AzureAd": {"ClientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "TenantId": "common",
			"ClientCredentials": [{"SourceType": "`+in+`", "ClientSecret": "x"}]}}`), nil)
		if err != nil {
			t.Fatalf("SourceType %q: %v", in, err)
		}
		equal(t, "SourceType from "+in, cfg.AzureAd.ClientCredentials[0].SourceType, SourceClientSecret)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "appsettings.json")
	_, err := loadConfig(missing, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: errors.Is(err, fs.ErrNotExist) is false for %v", err)
	}
	equal(t, "missing file", errorMessages(t, err), []string{missing + `: no such file: check the path, or load with path "" to read the environment only`})

	_, err = loadConfig(dir, nil)
	equal(t, "a directory", errorMessages(t, err), []string{dir + `: cannot be read: is a directory: check the path, or load with path "" to read the environment only`})

	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"a": "`+strings.Repeat("x", maxConfigFileSize)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(big, nil)
	equal(t, "a huge file", errorMessages(t, err), []string{big + `: is larger than 4 MiB, which no appsettings.json is: check the path, or load with path "" to read the environment only`})
}

func TestLoadValidationErrorsPointAtTheirSource(t *testing.T) {
	file := "{\n  \"AzureAd\": {\n    \"Instance\": \"http://login.microsoftonline.com/\",\n    \"TenantId\": \"common\",\n" +
		"    \"ClientCredentials\": [ { \"SourceType\": \"Path\" } ]\n  }\n}"
	_, err := LoadConfigFrom("appsettings.json", []byte(file), []string{"AzureAd__CallbackPath=signin-oidc"})
	equal(t, "errors", errorMessages(t, err), []string{
		"appsettings.json:2:14: AzureAd:ClientId is required: set it in appsettings.json or AzureAd__ClientId",
		"appsettings.json:3:17: AzureAd:Instance must use https: Microsoft Entra ID is served over https only; write https://login.microsoftonline.com/",
		`environment variable AzureAd__CallbackPath: AzureAd:CallbackPath "signin-oidc" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI`,
		"appsettings.json:5:28: AzureAd:ClientCredentials:0:CertificateDiskPath is required when SourceType is Path: set it in appsettings.json or AzureAd__ClientCredentials__0__CertificateDiskPath",
	})
}
