package ginidentity

import (
	"errors"
	"strings"
	"testing"
)

const (
	testClientID = "00001111-aaaa-2222-bbbb-3333cccc4444"
	testTenantID = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
)

// validConfig is a configuration every role accepts.
func validConfig() *Config {
	return &Config{
		AzureAd: AzureAdOptions{TenantID: testTenantID, ClientID: testClientID,
			ClientCredentials: []CredentialDescription{{SourceType: SourceClientSecret, ClientSecret: "s"}}},
		DownstreamApis: map[string]DownstreamAPIOptions{
			"TodoList": {BaseURL: "https://localhost:44351/api", Scopes: []string{"api://x/ToDoList.Read"}},
		},
	}
}

const allSources = "Certificate, KeyVault, Base64Encoded, Path, StoreWithThumbprint, StoreWithDistinguishedName, ClientSecret, " +
	"SignedAssertionFromManagedIdentity, SignedAssertionFilePath, SignedAssertionFromVault, CustomSignedAssertion"

func TestValidate(t *testing.T) {
	cred := func(cd CredentialDescription) func(c *Config) {
		return func(c *Config) { c.AzureAd.ClientCredentials = []CredentialDescription{cd} }
	}
	todo := func(edit func(d *DownstreamAPIOptions)) func(c *Config) {
		return func(c *Config) {
			d := c.DownstreamApis["TodoList"]
			edit(&d)
			c.DownstreamApis["TodoList"] = d
		}
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want []string // the messages of Validate, in order; none means valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"nothing configured is local mode", func(c *Config) { *c = Config{} }, nil},

		// Instance
		{"Instance not a URL", func(c *Config) { c.AzureAd.Instance = "login.microsoftonline.com" }, []string{
			`AzureAd:Instance "login.microsoftonline.com" is not an absolute URL: use a URL such as https://login.microsoftonline.com/`}},
		{"Instance over http", func(c *Config) { c.AzureAd.Instance = "http://login.microsoftonline.com/" }, []string{
			`AzureAd:Instance must use https: Microsoft Entra ID is served over https only; write https://login.microsoftonline.com/`}},
		{"Instance over http on loopback", func(c *Config) { c.AzureAd.Instance = "http://127.0.0.1:5443/" }, []string{
			`AzureAd:Instance must use https: Microsoft Entra ID is served over https only; write https://127.0.0.1:5443/`}},
		{"Instance with a tenant path", func(c *Config) { c.AzureAd.Instance = "https://login.microsoftonline.com/contoso.com" }, []string{
			`AzureAd:Instance must not have a path ("/contoso.com"): set it to the cloud's base URL such as https://login.microsoftonline.com/, and the tenant in AzureAd:TenantId`}},
		{"Instance with a query", func(c *Config) { c.AzureAd.Instance = "https://login.microsoftonline.com/?x=1" }, []string{
			`AzureAd:Instance must not have credentials, a query or a fragment: use a URL such as https://login.microsoftonline.com/`}},
		{"Instance of another cloud, without a slash", func(c *Config) { c.AzureAd.Instance = "https://login.microsoftonline.us" }, nil},
		{"Instance on the emulator", func(c *Config) { c.AzureAd.Instance = "https://127.0.0.1:5443/" }, nil},

		// TenantId, ClientId, Authority
		{"TenantId placeholder", func(c *Config) { c.AzureAd.TenantID = "Enter_the_Tenant_Info_Here" }, []string{
			`AzureAd:TenantId "Enter_the_Tenant_Info_Here" is not a tenant: use the Directory (tenant) ID from the app registration's Overview page, a domain such as contoso.onmicrosoft.com, or common or organizations`}},
		{"TenantId domain", func(c *Config) { c.AzureAd.TenantID = "contoso.onmicrosoft.com" }, nil},
		{"TenantId organizations", func(c *Config) { c.AzureAd.TenantID = "Organizations" }, nil},
		{"ClientId not a GUID", func(c *Config) { c.AzureAd.ClientID = "my-app" }, []string{
			`AzureAd:ClientId "my-app" is not an application (client) ID: copy the Application (client) ID, a GUID, from the app registration's Overview page`}},
		{"ClientId and TenantId missing", func(c *Config) { c.AzureAd.ClientID, c.AzureAd.TenantID = "", "" }, []string{
			`AzureAd:ClientId is required: set it in appsettings.json or AzureAd__ClientId`,
			`AzureAd:TenantId is required: set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app`}},
		{"Authority instead of TenantId", func(c *Config) {
			c.AzureAd.TenantID, c.AzureAd.Authority = "", "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
		}, nil},
		{"Authority agreeing with TenantId, in another case", func(c *Config) {
			c.AzureAd.Authority = "https://login.microsoftonline.com/" + strings.ToUpper(testTenantID)
		}, nil},
		{"Authority disagreeing with TenantId", func(c *Config) { c.AzureAd.Authority = "https://login.microsoftonline.com/common/v2.0" }, []string{
			`AzureAd:Authority names tenant "common" but AzureAd:TenantId is "aaaabbbb-0000-cccc-1111-dddd2222eeee": set only one of them, or make them agree`}},
		{"Authority on another host than Instance", func(c *Config) {
			c.AzureAd.Instance, c.AzureAd.Authority = "https://login.microsoftonline.com/", "https://login.microsoftonline.us/"+testTenantID
		}, []string{
			`AzureAd:Authority is on login.microsoftonline.us but AzureAd:Instance is on login.microsoftonline.com: set only one of them, or make them agree`}},
		{"Authority without a tenant", func(c *Config) { c.AzureAd.TenantID, c.AzureAd.Authority = "", "https://login.microsoftonline.com/" }, []string{
			`AzureAd:TenantId is required: set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app`,
			`AzureAd:Authority has no tenant: write it as https://login.microsoftonline.com/{tenant}/v2.0`}},
		{"Authority with more path", func(c *Config) {
			c.AzureAd.Authority = "https://login.microsoftonline.com/" + testTenantID + "/oauth2/v2.0/token"
		}, []string{
			`AzureAd:Authority has an unexpected path after the tenant ("oauth2/v2.0/token"): write it as https://login.microsoftonline.com/{tenant}/v2.0`}},
		{"Authority over http", func(c *Config) { c.AzureAd.Authority = "http://login.microsoftonline.com/" + testTenantID }, []string{
			`AzureAd:Authority must use https: Microsoft Entra ID is served over https only; write https://login.microsoftonline.com/aaaabbbb-0000-cccc-1111-dddd2222eeee`}},

		// Callback paths
		{"CallbackPath without a slash", func(c *Config) { c.AzureAd.CallbackPath = "signin-oidc" }, []string{
			`AzureAd:CallbackPath "signin-oidc" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI`}},
		{"CallbackPath to another host", func(c *Config) { c.AzureAd.CallbackPath = "//evil.example/cb" }, []string{
			`AzureAd:CallbackPath "//evil.example/cb" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI`}},
		{"CallbackPath as a URL", func(c *Config) { c.AzureAd.CallbackPath = "https://app/signin-oidc" }, []string{
			`AzureAd:CallbackPath "https://app/signin-oidc" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI`}},
		{"SignedOutCallbackPath with a query", func(c *Config) { c.AzureAd.SignedOutCallbackPath = "/out?x=1" }, []string{
			`AzureAd:SignedOutCallbackPath "/out?x=1" must be a path on this app starting with '/': use a path such as /signout-callback-oidc, and register the matching redirect URI`}},
		{"custom callback paths", func(c *Config) {
			c.AzureAd.CallbackPath, c.AzureAd.SignedOutCallbackPath = "/auth/callback", "/auth/out"
		}, nil},

		// Credentials
		{"SourceType missing", cred(CredentialDescription{ClientSecret: "s"}), []string{
			`AzureAd:ClientCredentials:0:SourceType is required: set it to one of ` + allSources}},
		{"SourceType unknown", cred(CredentialDescription{SourceType: "Secret", ClientSecret: "s"}), []string{
			`AzureAd:ClientCredentials:0:SourceType "Secret" is not a credential source: use one of ` + allSources}},
		{"SourceType for decryption only", cred(CredentialDescription{SourceType: "autodecryptkeys"}), []string{
			`AzureAd:ClientCredentials:0:SourceType AutoDecryptKeys only decrypts tokens and cannot prove the app's identity: move it to AzureAd:TokenDecryptionCredentials, or use one of ` + allSources}},
		{"ClientSecret missing", cred(CredentialDescription{SourceType: SourceClientSecret}), []string{
			`AzureAd:ClientCredentials:0:ClientSecret is required when SourceType is ClientSecret: set it in appsettings.json or AzureAd__ClientCredentials__0__ClientSecret`}},
		{"CertificateDiskPath missing", cred(CredentialDescription{SourceType: SourcePath, CertificatePassword: "p"}), []string{
			`AzureAd:ClientCredentials:0:CertificateDiskPath is required when SourceType is Path: set it in appsettings.json or AzureAd__ClientCredentials__0__CertificateDiskPath`}},
		{"Base64EncodedValue missing", cred(CredentialDescription{SourceType: SourceBase64Encoded}), []string{
			`AzureAd:ClientCredentials:0:Base64EncodedValue is required when SourceType is Base64Encoded: set it in appsettings.json or AzureAd__ClientCredentials__0__Base64EncodedValue`}},
		{"Base64EncodedValue not base64", cred(CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: "not*base64"}), []string{
			"AzureAd:ClientCredentials:0:Base64EncodedValue is not valid base64: encode the certificate file (PFX or PEM) with base64, for example `base64 -w0 cert.pfx`"}},
		{"Base64EncodedValue wrapped over lines", cred(CredentialDescription{SourceType: SourceBase64Encoded, Base64EncodedValue: "TUlJ\r\nQzBn"}), nil},
		{"KeyVault fields missing", cred(CredentialDescription{SourceType: SourceKeyVault}), []string{
			`AzureAd:ClientCredentials:0:KeyVaultUrl is required when SourceType is KeyVault: set it in appsettings.json or AzureAd__ClientCredentials__0__KeyVaultUrl`,
			`AzureAd:ClientCredentials:0:KeyVaultCertificateName is required when SourceType is KeyVault: set it in appsettings.json or AzureAd__ClientCredentials__0__KeyVaultCertificateName`}},
		{"KeyVaultUrl over http", cred(CredentialDescription{SourceType: SourceKeyVault, KeyVaultURL: "http://kv.vault.azure.net", KeyVaultCertificateName: "c"}), []string{
			`AzureAd:ClientCredentials:0:KeyVaultUrl must use https: a token sent over http can be stolen: write https://kv.vault.azure.net (http is allowed for localhost only)`}},
		{"assertion from a vault needs the vault", cred(CredentialDescription{SourceType: SourceSignedAssertionFromVault}), []string{
			`AzureAd:ClientCredentials:0:KeyVaultUrl is required when SourceType is SignedAssertionFromVault: set it in appsettings.json or AzureAd__ClientCredentials__0__KeyVaultUrl`}},
		{"store with thumbprint fields missing", cred(CredentialDescription{SourceType: SourceStoreWithThumbprint}), []string{
			`AzureAd:ClientCredentials:0:CertificateStorePath is required when SourceType is StoreWithThumbprint: set it in appsettings.json or AzureAd__ClientCredentials__0__CertificateStorePath`,
			`AzureAd:ClientCredentials:0:CertificateThumbprint is required when SourceType is StoreWithThumbprint: set it in appsettings.json or AzureAd__ClientCredentials__0__CertificateThumbprint`}},
		{"store with distinguished name missing", cred(CredentialDescription{SourceType: SourceStoreWithDistinguishedName, CertificateStorePath: "CurrentUser/My"}), []string{
			`AzureAd:ClientCredentials:0:CertificateDistinguishedName is required when SourceType is StoreWithDistinguishedName: set it in appsettings.json or AzureAd__ClientCredentials__0__CertificateDistinguishedName`}},
		{"custom assertion provider missing", cred(CredentialDescription{SourceType: SourceCustomSignedAssertion}), []string{
			`AzureAd:ClientCredentials:0:CustomSignedAssertionProviderName is required when SourceType is CustomSignedAssertion: set it in appsettings.json or AzureAd__ClientCredentials__0__CustomSignedAssertionProviderName`}},
		{"signed assertion file without a path (AZURE_FEDERATED_TOKEN_FILE)", cred(CredentialDescription{SourceType: SourceSignedAssertionFilePath}), nil},
		{"managed identity without a client ID (system-assigned)", cred(CredentialDescription{SourceType: SourceSignedAssertionFromManagedIdentity}), nil},
		{"a skipped entry needs no fields", func(c *Config) {
			c.AzureAd.ClientCredentials = append(c.AzureAd.ClientCredentials, CredentialDescription{SourceType: SourceKeyVault, Skip: true})
		}, nil},
		{"a skipped entry still needs a known SourceType", func(c *Config) {
			c.AzureAd.ClientCredentials = append(c.AzureAd.ClientCredentials, CredentialDescription{SourceType: "Vault", Skip: true})
		}, []string{`AzureAd:ClientCredentials:1:SourceType "Vault" is not a credential source: use one of ` + allSources}},
		{"legacy ClientCertificates", func(c *Config) {
			c.AzureAd.ClientCertificates = []CredentialDescription{{SourceType: SourcePath}}
		}, []string{
			`AzureAd:ClientCertificates:0:CertificateDiskPath is required when SourceType is Path: set it in appsettings.json or AzureAd__ClientCertificates__0__CertificateDiskPath`}},

		// Downstream APIs and Microsoft Graph
		{"BaseUrl missing", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "" }), []string{
			`DownstreamApis:TodoList:BaseUrl is required: set it to the API's base URL, such as https://localhost:44351/api, in appsettings.json or DownstreamApis__TodoList__BaseUrl`}},
		{"BaseUrl relative", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "/api" }), []string{
			`DownstreamApis:TodoList:BaseUrl "/api" is not an absolute http(s) URL: use a URL such as https://api.contoso.com/`}},
		{"BaseUrl not http", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "ftp://files.contoso.com" }), []string{
			`DownstreamApis:TodoList:BaseUrl "ftp://files.contoso.com" is not an absolute http(s) URL: use a URL such as https://api.contoso.com/`}},
		{"BaseUrl over http to another host", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "http://api.contoso.com/v1" }), []string{
			`DownstreamApis:TodoList:BaseUrl must use https: a token sent over http can be stolen: write https://api.contoso.com/v1 (http is allowed for localhost only)`}},
		{"BaseUrl over http to localhost", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "http://localhost:5001" }), nil},
		{"BaseUrl over http to 127.0.0.1", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "http://127.0.0.1:5001/api" }), nil},
		{"BaseUrl over http to ::1", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "http://[::1]:5001" }), nil},
		{"BaseUrl with a password", todo(func(d *DownstreamAPIOptions) { d.BaseURL = "https://u:p@api.contoso.com" }), []string{
			`DownstreamApis:TodoList:BaseUrl must not have credentials or a fragment: remove them`}},
		{"Scopes missing", todo(func(d *DownstreamAPIOptions) { d.Scopes = nil }), []string{
			`DownstreamApis:TodoList:Scopes is required: list the scopes to request, such as ["api://<client-id>/access_as_user"], or ["api://<client-id>/.default"] with RequestAppToken`}},
		{"app token with a delegated scope", todo(func(d *DownstreamAPIOptions) { d.RequestAppToken = true }), []string{
			`DownstreamApis:TodoList:Scopes must be a single "{resource}/.default" scope when RequestAppToken is true: an app token carries the roles granted to the app; request e.g. api://<client-id>/.default`}},
		{"app token with .default", todo(func(d *DownstreamAPIOptions) { d.RequestAppToken, d.Scopes = true, []string{"api://x/.default"} }), nil},
		{"HttpMethod unknown", todo(func(d *DownstreamAPIOptions) { d.HTTPMethod = "FETCH" }), []string{
			`DownstreamApis:TodoList:HttpMethod "FETCH" is not an HTTP method: use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS`}},
		{"HttpMethod in .NET's spelling", todo(func(d *DownstreamAPIOptions) { d.HTTPMethod = "Patch" }), nil},
		{"Graph BaseUrl over http", func(c *Config) { c.MicrosoftGraph.BaseURL = "http://graph.microsoft.com/v1.0" }, []string{
			`MicrosoftGraph:BaseUrl must use https: a token sent over http can be stolen: write https://graph.microsoft.com/v1.0 (http is allowed for localhost only)`}},

		{"every problem at once, downstream APIs in name order", func(c *Config) {
			c.AzureAd.ClientID = ""
			c.AzureAd.CallbackPath = "cb"
			c.DownstreamApis["B"] = DownstreamAPIOptions{BaseURL: "https://b", Scopes: []string{"s"}, HTTPMethod: "X"}
			c.DownstreamApis["A"] = DownstreamAPIOptions{Scopes: []string{"s"}}
		}, []string{
			`AzureAd:ClientId is required: set it in appsettings.json or AzureAd__ClientId`,
			`AzureAd:CallbackPath "cb" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI`,
			`DownstreamApis:A:BaseUrl is required: set it to the API's base URL, such as https://localhost:44351/api, in appsettings.json or DownstreamApis__A__BaseUrl`,
			`DownstreamApis:B:HttpMethod "X" is not an HTTP method: use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			var got []string
			for _, ce := range configErrors(t, err) {
				if ce.Source != "" {
					t.Errorf("a Config built in code has no source, got %q", ce.Source)
				}
				got = append(got, ce.Error())
			}
			equal(t, "errors", got, tt.want)
		})
	}
}

func TestValidateRoles(t *testing.T) {
	noCredentials := func(c *Config) { c.AzureAd.ClientCredentials = nil }
	tests := []struct {
		name     string
		edit     func(c *Config)
		validate func(c *Config) error
		want     []string
	}{
		{"web API", func(c *Config) {}, (*Config).ValidateWebAPI, nil},
		{"web API needs no credential", noCredentials, (*Config).ValidateWebAPI, nil},
		{"web API multi-tenant", func(c *Config) { c.AzureAd.TenantID = "common" }, (*Config).ValidateWebAPI, nil},
		{"web API with nothing configured", func(c *Config) { *c = Config{} }, (*Config).ValidateWebAPI, []string{
			`AzureAd:ClientId is required for a web API: set it in appsettings.json or AzureAd__ClientId`,
			`AzureAd:TenantId is required for a web API: set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app`}},
		{"web app", func(c *Config) {}, (*Config).ValidateWebApp, nil},
		{"web app without a credential", noCredentials, (*Config).ValidateWebApp, []string{
			`AzureAd:ClientCredentials needs at least one credential for a web app: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`}},
		{"web app with only skipped credentials", func(c *Config) { c.AzureAd.ClientCredentials[0].Skip = true }, (*Config).ValidateWebApp, []string{
			`AzureAd:ClientCredentials needs at least one credential for a web app: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`}},
		{"web app with the legacy ClientSecret", func(c *Config) { noCredentials(c); c.AzureAd.ClientSecret = "s" }, (*Config).ValidateWebApp, nil},
		{"web app with legacy ClientCertificates", func(c *Config) {
			noCredentials(c)
			c.AzureAd.ClientCertificates = []CredentialDescription{{SourceType: SourcePath, CertificateDiskPath: "c.pfx"}}
		}, (*Config).ValidateWebApp, nil},
		{"web app with nothing configured", func(c *Config) { *c = Config{} }, (*Config).ValidateWebApp, []string{
			`AzureAd:ClientId is required for a web app: set it in appsettings.json or AzureAd__ClientId`,
			`AzureAd:TenantId is required for a web app: set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app`,
			`AzureAd:ClientCredentials needs at least one credential for a web app: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`}},
		{"daemon", func(c *Config) {}, (*Config).ValidateDaemon, nil},
		{"daemon without a credential", noCredentials, (*Config).ValidateDaemon, []string{
			`AzureAd:ClientCredentials needs at least one credential for a daemon: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`}},
		{"daemon on common", func(c *Config) { c.AzureAd.TenantID = "common" }, (*Config).ValidateDaemon, []string{
			`AzureAd:TenantId is "common", but a daemon's app tokens come from one tenant: set it to your tenant's ID or domain, such as contoso.onmicrosoft.com`}},
		{"daemon on organizations, from Authority", func(c *Config) {
			c.AzureAd.TenantID, c.AzureAd.Authority = "", "https://login.microsoftonline.com/organizations/v2.0"
		}, (*Config).ValidateDaemon, []string{
			`AzureAd:TenantId is "organizations", but a daemon's app tokens come from one tenant: set it to your tenant's ID or domain, such as contoso.onmicrosoft.com`}},
		{"daemon on consumers", func(c *Config) { c.AzureAd.TenantID = "consumers" }, (*Config).ValidateDaemon, []string{
			`AzureAd:TenantId is "consumers", but a daemon's app tokens come from one tenant: set it to your tenant's ID or domain, such as contoso.onmicrosoft.com`}},
		{"role checks and form checks together", func(c *Config) { noCredentials(c); c.AzureAd.Instance = "http://x/" }, (*Config).ValidateDaemon, []string{
			`AzureAd:ClientCredentials needs at least one credential for a daemon: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`,
			`AzureAd:Instance must use https: Microsoft Entra ID is served over https only; write https://x/`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(c)
			var got []string
			for _, ce := range configErrors(t, tt.validate(c)) {
				got = append(got, ce.Error())
			}
			equal(t, "errors", got, tt.want)
		})
	}
}

func TestValidateNeverShowsSecrets(t *testing.T) {
	const secret = "Sup3r-S3cret+Value/=="
	c := &Config{AzureAd: AzureAdOptions{ClientID: "bad", TenantID: "common", ClientSecret: secret,
		ClientCredentials: []CredentialDescription{
			{SourceType: "Nope", ClientSecret: secret, CertificatePassword: secret},
			{SourceType: SourceBase64Encoded, Base64EncodedValue: secret + "*", CertificatePassword: secret},
			{SourceType: SourcePath, CertificatePassword: secret},
			{SourceType: SourceKeyVault, KeyVaultURL: "http://kv", ClientSecret: secret},
		}}}
	err := c.ValidateDaemon()
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(configErrors(t, err)); n < 5 {
		t.Fatalf("only %d errors: %v", n, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("an error shows the secret:\n%v", err)
	}

	// Nor when the secret is in a value of the wrong type, from a file or the environment.
	_, err = LoadConfigFrom("s.json", []byte(`{"AzureAd": {"ClientSecret": ["`+secret+`"], "ClientCredentials": [{"SourceType": "Base64Encoded", "Base64EncodedValue": "`+secret+`*"}]}}`),
		[]string{"AzureAd__ClientCredentials__0__CertificatePassword=" + secret, "AzureAd__ClientCredentials__1__ClientSecret=" + secret})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("load error shows the secret (or is missing):\n%v", err)
	}
}

func TestSetDefaults(t *testing.T) {
	c := &Config{
		AzureAd: AzureAdOptions{ClientID: testClientID, TenantID: "common",
			ClientCredentials: []CredentialDescription{{SourceType: "path"}, {SourceType: "8"}, {SourceType: "unknown"}}},
		DownstreamApis: map[string]DownstreamAPIOptions{"A": {HTTPMethod: "delete", ContentType: "text/plain"}},
	}
	c.SetDefaults()
	equal(t, "Instance", c.AzureAd.Instance, DefaultInstance)
	equal(t, "CallbackPath", c.AzureAd.CallbackPath, DefaultCallbackPath)
	equal(t, "SignedOutCallbackPath", c.AzureAd.SignedOutCallbackPath, DefaultSignedOutCallbackPath)
	equal(t, "SourceTypes", []CredentialSource{c.AzureAd.ClientCredentials[0].SourceType, c.AzureAd.ClientCredentials[1].SourceType,
		c.AzureAd.ClientCredentials[2].SourceType}, []CredentialSource{SourcePath, SourceSignedAssertionFilePath, "unknown"})
	equal(t, "downstream API", c.DownstreamApis["A"], DownstreamAPIOptions{HTTPMethod: "DELETE", AcceptHeader: "application/json",
		ContentType: "text/plain", ProtocolScheme: "Bearer"})
	equal(t, "MicrosoftGraph", c.MicrosoftGraph, MicrosoftGraphOptions{BaseURL: DefaultGraphBaseURL, Scopes: []string{DefaultGraphScope}})

	before := c.String()
	c.SetDefaults()
	equal(t, "a second SetDefaults", c.String(), before)

	fromAuthority := &Config{AzureAd: AzureAdOptions{Authority: "https://login.microsoftonline.us/contoso.us/v2.0"}}
	fromAuthority.SetDefaults()
	equal(t, "Instance with an Authority", fromAuthority.AzureAd.Instance, "")
	equal(t, "InstanceURL with an Authority", fromAuthority.AzureAd.InstanceURL(), "https://login.microsoftonline.us/")

	local := &Config{}
	local.SetDefaults()
	equal(t, "Instance in local mode", local.AzureAd.Instance, "")
	equal(t, "IsConfigured after SetDefaults in local mode", local.AzureAd.IsConfigured(), false)
}

func TestConfigError(t *testing.T) {
	cause := errors.New("cause")
	for _, tt := range []struct {
		err  *ConfigError
		want string
	}{
		{&ConfigError{Field: "AzureAd:ClientId", Problem: "is required", Fix: "set it in appsettings.json or AzureAd__ClientId"},
			"AzureAd:ClientId is required: set it in appsettings.json or AzureAd__ClientId"},
		{&ConfigError{Field: "AzureAd:ClientId", Problem: "is required", Source: "a.json:2:3"}, "a.json:2:3: AzureAd:ClientId is required"},
		{&ConfigError{Problem: "invalid JSON", Source: "a.json:1:1", Fix: "fix it", Err: cause}, "a.json:1:1: invalid JSON: fix it"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&ConfigError{Err: cause}, cause) {
		t.Error("ConfigError does not unwrap to its Err")
	}
}
