package ginidentity

import "testing"

func TestAzureAdAccessors(t *testing.T) {
	tests := []struct {
		name                        string
		a                           AzureAdOptions
		instance, tenant, authority string
		multiTenant, configured     bool
	}{
		{"nothing set", AzureAdOptions{}, DefaultInstance, "", "", false, false},
		{"only callback paths (not an identity)", AzureAdOptions{CallbackPath: "/cb", Scopes: PermissionSet{Values: []string{"s"}}},
			DefaultInstance, "", "", false, false},
		{"tenant ID", AzureAdOptions{TenantID: testTenantID}, DefaultInstance, testTenantID,
			"https://login.microsoftonline.com/" + testTenantID, false, true},
		{"instance without a slash", AzureAdOptions{Instance: "https://login.microsoftonline.us", TenantID: "contoso.us"},
			"https://login.microsoftonline.us/", "contoso.us", "https://login.microsoftonline.us/contoso.us", false, true},
		{"instance with many slashes", AzureAdOptions{Instance: "https://127.0.0.1:5443//", TenantID: "common"},
			"https://127.0.0.1:5443/", "common", "https://127.0.0.1:5443/common", true, true},
		{"authority with /v2.0", AzureAdOptions{Authority: "https://login.microsoftonline.com/organizations/v2.0/"},
			"https://login.microsoftonline.com/", "organizations", "https://login.microsoftonline.com/organizations", true, true},
		{"authority and instance", AzureAdOptions{Instance: "https://login.microsoftonline.com/", Authority: "https://login.microsoftonline.com/Common"},
			"https://login.microsoftonline.com/", "Common", "https://login.microsoftonline.com/Common", true, true},
		{"authority without a tenant", AzureAdOptions{Authority: "https://login.microsoftonline.com/"},
			"https://login.microsoftonline.com/", "", "", false, true},
		{"authority that is not a URL", AzureAdOptions{Authority: "contoso"}, DefaultInstance, "", "", false, true},
		{"consumers is not multi-tenant in this sense", AzureAdOptions{TenantID: "consumers"},
			DefaultInstance, "consumers", DefaultInstance + "consumers", false, true},
		{"only a credential", AzureAdOptions{ClientCredentials: []CredentialDescription{{SourceType: SourceClientSecret}}},
			DefaultInstance, "", "", false, true},
		{"only the legacy secret", AzureAdOptions{ClientSecret: "s"}, DefaultInstance, "", "", false, true},
		{"only a domain", AzureAdOptions{Domain: "contoso.com"}, DefaultInstance, "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, "InstanceURL", tt.a.InstanceURL(), tt.instance)
			equal(t, "Tenant", tt.a.Tenant(), tt.tenant)
			equal(t, "AuthorityURL", tt.a.AuthorityURL(), tt.authority)
			equal(t, "IsMultiTenant", tt.a.IsMultiTenant(), tt.multiTenant)
			equal(t, "IsConfigured", tt.a.IsConfigured(), tt.configured)
		})
	}
}

func TestCredentialsOrder(t *testing.T) {
	a := AzureAdOptions{
		ClientSecret: "legacy",
		ClientCertificates: []CredentialDescription{
			{SourceType: SourceKeyVault, KeyVaultURL: "https://kv", KeyVaultCertificateName: "c", Skip: true},
			{SourceType: SourcePath, CertificateDiskPath: "c.pfx"},
		},
		ClientCredentials: []CredentialDescription{
			{SourceType: SourceSignedAssertionFromManagedIdentity},
			{SourceType: SourceClientSecret, ClientSecret: "first", Skip: true},
		},
	}
	equal(t, "Credentials", a.Credentials(), []CredentialDescription{
		{SourceType: SourceSignedAssertionFromManagedIdentity},
		{SourceType: SourcePath, CertificateDiskPath: "c.pfx"},
		{SourceType: SourceClientSecret, ClientSecret: "legacy"},
	})
	equal(t, "no credentials", AzureAdOptions{}.Credentials(), []CredentialDescription(nil))
}

func TestPermissionSet(t *testing.T) {
	p := PermissionSet{
		Values: []string{"a", "b"},
		Groups: map[string][]string{"Write": {"w", "a"}, "Read": {"r", "w"}},
	}
	equal(t, "All", p.All(), []string{"a", "b", "r", "w"})
	equal(t, "Names", p.Names(), []string{"Read", "Write"})
	equal(t, "Named(READ)", p.Named("READ"), []string{"r", "w"})
	equal(t, "Named(Write)", p.Named("Write"), []string{"w", "a"})
	equal(t, "Named(missing)", p.Named("Admin"), []string(nil))
	equal(t, "IsEmpty", p.IsEmpty(), false)
	equal(t, "String", p.String(), "[a b] {Read:[r w] Write:[w a]}")
	empty := PermissionSet{Groups: map[string][]string{"Read": nil}}
	equal(t, "IsEmpty with empty groups", empty.IsEmpty(), true)
	equal(t, "All of the zero set", PermissionSet{}.All(), []string(nil))
	equal(t, "String of the zero set", PermissionSet{}.String(), "[]")
}

func TestDownstreamAPIURL(t *testing.T) {
	for _, tt := range []struct{ base, rel, want string }{
		{"https://localhost:44351", "api/todolist", "https://localhost:44351/api/todolist"},
		{"https://localhost:44351/", "/api/todolist", "https://localhost:44351/api/todolist"},
		{"https://graph.microsoft.com/v1.0", "", "https://graph.microsoft.com/v1.0"},
		{"https://graph.microsoft.com/v1.0/", "me?$select=id", "https://graph.microsoft.com/v1.0/me?$select=id"},
	} {
		if got := (DownstreamAPIOptions{BaseURL: tt.base, RelativePath: tt.rel}).URL(); got != tt.want {
			t.Errorf("URL(%q, %q) = %q, want %q", tt.base, tt.rel, got, tt.want)
		}
	}
}
