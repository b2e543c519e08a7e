package ginidentity

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// Config is an app's identity configuration: the AzureAd, DownstreamApis and MicrosoftGraph sections of a
// Microsoft.Identity.Web appsettings.json, and the TokenCache and Sessions sections that let many instances
// of an app share their token cache and sessions in Redis. Load it with LoadConfig, or build it as a literal
// and call one of its Validate methods.
//
// Printing a Config (fmt, slog) never shows a secret: ClientSecret, CertificatePassword and Base64EncodedValue
// print as [redacted], and maps of free-form values (Extra, ExtraHeaderParameters, ...) print their keys only.
type Config struct {
	AzureAd        AzureAdOptions                  `json:"AzureAd"`
	DownstreamApis map[string]DownstreamAPIOptions `json:"DownstreamApis"`
	MicrosoftGraph MicrosoftGraphOptions           `json:"MicrosoftGraph"`
	TokenCache     TokenCacheOptions               `json:"TokenCache"`
	Sessions       SessionsOptions                 `json:"Sessions"`

	// sources maps a lower-case configuration path ("azuread:clientid") to where its value came from
	// ("appsettings.json:4:17" or "environment variable AzureAd__ClientId"), so that a problem found by
	// validation points at the line to fix. Empty for a Config built in code.
	sources map[string]string
}

// DefaultInstance is the Microsoft Entra ID cloud used when AzureAd:Instance is not set.
const DefaultInstance = "https://login.microsoftonline.com/"

// AzureAdOptions is the AzureAd section: who the app is (ClientId), which directory it trusts (Instance and
// TenantId, or Authority), how it proves its identity (ClientCredentials) and what it protects (Scopes,
// AppPermissions). Field names in JSON are Microsoft.Identity.Web's; keys are matched case-insensitively.
type AzureAdOptions struct {
	// Instance is the cloud's sign-in URL; read it through InstanceURL, which applies the default.
	Instance string `json:"Instance"`
	// TenantID is a tenant ID (GUID), a tenant domain, or common / organizations for a multi-tenant app.
	TenantID string `json:"TenantId"`
	// ClientID is the Application (client) ID of the app registration.
	ClientID string `json:"ClientId"`
	Domain   string `json:"Domain"`
	// Authority is an alternative to Instance + TenantId: https://login.microsoftonline.com/{tenant}[/v2.0].
	Authority string `json:"Authority"`
	// ClientCredentials are the ways the app proves its identity, tried in order.
	ClientCredentials []CredentialDescription `json:"ClientCredentials"`
	// ClientCertificates is the older name for certificate credentials; tried after ClientCredentials.
	ClientCertificates []CredentialDescription `json:"ClientCertificates"`
	// ClientSecret is the legacy single secret; tried after ClientCredentials and ClientCertificates.
	ClientSecret          string `json:"ClientSecret" secret:"true"`
	CallbackPath          string `json:"CallbackPath"`          // default /signin-oidc
	SignedOutCallbackPath string `json:"SignedOutCallbackPath"` // default /signout-callback-oidc
	// Audience and Audiences are the token audiences a web API accepts besides its ClientId and api://ClientId.
	Audience  string   `json:"Audience"`
	Audiences []string `json:"Audiences"`
	// Scopes and AppPermissions are the delegated scopes and app roles a web API requires.
	Scopes                         PermissionSet     `json:"Scopes"`
	AppPermissions                 PermissionSet     `json:"AppPermissions"`
	ClientCapabilities             []string          `json:"ClientCapabilities"`
	AllowWebAPIToBeAuthorizedByACL bool              `json:"AllowWebApiToBeAuthorizedByACL"`
	SignUpSignInPolicyID           string            `json:"SignUpSignInPolicyId"`
	ResetPasswordPolicyID          string            `json:"ResetPasswordPolicyId"`
	EditProfilePolicyID            string            `json:"EditProfilePolicyId"`
	ExtraQueryParameters           map[string]string `json:"ExtraQueryParameters"`

	// Extra holds the section's other keys (SendX5C, TokenDecryptionCredentials, ...) as raw JSON, keyed as
	// written in the file; a value set from the environment is a JSON string.
	Extra map[string]json.RawMessage `json:"-"`
}

// CredentialSource is the SourceType of a CredentialDescription: where a client credential comes from.
// The values are Microsoft.Identity.Web's; the configuration may also spell them in any case or by their
// .NET enum number ("6" is ClientSecret).
type CredentialSource string

// The credential sources of Microsoft.Identity.Web, in the order of their .NET enum numbers.
const (
	SourceCertificate                        CredentialSource = "Certificate" // a certificate given in code; from configuration, its Base64EncodedValue
	SourceKeyVault                           CredentialSource = "KeyVault"
	SourceBase64Encoded                      CredentialSource = "Base64Encoded"
	SourcePath                               CredentialSource = "Path"
	SourceStoreWithThumbprint                CredentialSource = "StoreWithThumbprint"
	SourceStoreWithDistinguishedName         CredentialSource = "StoreWithDistinguishedName"
	SourceClientSecret                       CredentialSource = "ClientSecret"
	SourceSignedAssertionFromManagedIdentity CredentialSource = "SignedAssertionFromManagedIdentity"
	SourceSignedAssertionFilePath            CredentialSource = "SignedAssertionFilePath"
	SourceSignedAssertionFromVault           CredentialSource = "SignedAssertionFromVault"
	SourceAutoDecryptKeys                    CredentialSource = "AutoDecryptKeys" // token decryption only, never a client credential
	SourceCustomSignedAssertion              CredentialSource = "CustomSignedAssertion"
)

// credentialSources lists the sources by their .NET enum number.
var credentialSources = []CredentialSource{
	SourceCertificate, SourceKeyVault, SourceBase64Encoded, SourcePath, SourceStoreWithThumbprint,
	SourceStoreWithDistinguishedName, SourceClientSecret, SourceSignedAssertionFromManagedIdentity,
	SourceSignedAssertionFilePath, SourceSignedAssertionFromVault, SourceAutoDecryptKeys, SourceCustomSignedAssertion,
}

// CredentialDescription describes one client credential, with Microsoft.Identity.Web's field names. Which
// fields matter depends on SourceType: ClientSecret needs ClientSecret; Path needs CertificateDiskPath (and
// CertificatePassword if the file has one); Base64Encoded needs Base64EncodedValue; KeyVault needs KeyVaultUrl
// and KeyVaultCertificateName; SignedAssertionFilePath may name SignedAssertionFileDiskPath (otherwise
// AZURE_FEDERATED_TOKEN_FILE); SignedAssertionFromManagedIdentity may name ManagedIdentityClientId.
type CredentialDescription struct {
	SourceType                        CredentialSource `json:"SourceType"`
	ClientSecret                      string           `json:"ClientSecret" secret:"true"`
	CertificateDiskPath               string           `json:"CertificateDiskPath"`
	CertificatePassword               string           `json:"CertificatePassword" secret:"true"`
	Base64EncodedValue                string           `json:"Base64EncodedValue" secret:"true"`
	SignedAssertionFileDiskPath       string           `json:"SignedAssertionFileDiskPath"`
	ManagedIdentityClientID           string           `json:"ManagedIdentityClientId"`
	KeyVaultURL                       string           `json:"KeyVaultUrl"`
	KeyVaultCertificateName           string           `json:"KeyVaultCertificateName"`
	CertificateStorePath              string           `json:"CertificateStorePath"`
	CertificateThumbprint             string           `json:"CertificateThumbprint"`
	CertificateDistinguishedName      string           `json:"CertificateDistinguishedName"`
	TokenExchangeURL                  string           `json:"TokenExchangeUrl"`
	TokenExchangeAuthority            string           `json:"TokenExchangeAuthority"`
	CustomSignedAssertionProviderName string           `json:"CustomSignedAssertionProviderName"`
	// Skip leaves this credential out, for a list of which only some apply to a given deployment.
	Skip bool `json:"Skip"`

	// Extra holds the entry's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// DownstreamAPIOptions describes one entry of the DownstreamApis section: a web API the app calls with a
// token for the signed-in user (or for itself, with RequestAppToken).
type DownstreamAPIOptions struct {
	BaseURL      string `json:"BaseUrl"`
	RelativePath string `json:"RelativePath"`
	// Scopes to request: in JSON an array, or one space-separated string.
	Scopes                []string            `json:"Scopes"`
	RequestAppToken       bool                `json:"RequestAppToken"`
	HTTPMethod            string              `json:"HttpMethod"`     // default GET
	AcceptHeader          string              `json:"AcceptHeader"`   // default application/json
	ContentType           string              `json:"ContentType"`    // default application/json
	ProtocolScheme        string              `json:"ProtocolScheme"` // default Bearer
	ExtraHeaderParameters map[string]string   `json:"ExtraHeaderParameters"`
	ExtraQueryParameters  map[string]string   `json:"ExtraQueryParameters"`
	AcquireTokenOptions   AcquireTokenOptions `json:"AcquireTokenOptions"`

	// Extra holds the entry's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// URL is BaseUrl joined with RelativePath by exactly one slash, as Microsoft.Identity.Web builds it.
func (d DownstreamAPIOptions) URL() string {
	if d.RelativePath == "" {
		return d.BaseURL
	}
	return strings.TrimRight(d.BaseURL, "/") + "/" + strings.TrimLeft(d.RelativePath, "/")
}

// AcquireTokenOptions direct how a token for a downstream API is acquired.
type AcquireTokenOptions struct {
	AuthenticationOptionsName   string                  `json:"AuthenticationOptionsName"`
	Tenant                      string                  `json:"Tenant"` // a tenant other than AzureAd's, for a guest user
	Claims                      string                  `json:"Claims"`
	ForceRefresh                bool                    `json:"ForceRefresh"`
	CorrelationID               string                  `json:"CorrelationId"`
	ExtraQueryParameters        map[string]string       `json:"ExtraQueryParameters"`
	ExtraHeadersParameters      map[string]string       `json:"ExtraHeadersParameters"`
	LongRunningWebAPISessionKey string                  `json:"LongRunningWebApiSessionKey"`
	UserFlow                    string                  `json:"UserFlow"`
	ManagedIdentity             *ManagedIdentityOptions `json:"ManagedIdentity"`

	// Extra holds the section's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// ManagedIdentityOptions ask for an app token from a managed identity instead of the app's credentials.
type ManagedIdentityOptions struct {
	// UserAssignedClientID selects a user-assigned identity; empty means the system-assigned one.
	UserAssignedClientID string `json:"UserAssignedClientId"`
}

// Defaults of the MicrosoftGraph section.
const (
	DefaultGraphBaseURL = "https://graph.microsoft.com/v1.0"
	DefaultGraphScope   = "User.Read"
)

// MicrosoftGraphOptions is the MicrosoftGraph section.
type MicrosoftGraphOptions struct {
	BaseURL string   `json:"BaseUrl"` // default https://graph.microsoft.com/v1.0
	Scopes  []string `json:"Scopes"`  // default User.Read; in JSON an array or one space-separated string

	// Extra holds the section's other keys as raw JSON.
	Extra map[string]json.RawMessage `json:"-"`
}

// PermissionSet is the value of AzureAd:Scopes or AzureAd:AppPermissions. appsettings.json may write it as
// one space-separated string ("access_as_user"), an array of strings, or an object of named lists, as
// Microsoft's samples do: {"Read": ["ToDoList.Read", "ToDoList.ReadWrite"], "Write": ["ToDoList.ReadWrite"]}.
type PermissionSet struct {
	Values []string            // from the string and array forms
	Groups map[string][]string // from the object form
}

// All returns every permission of the set once: Values, then each group in name order.
func (p PermissionSet) All() []string {
	var all []string
	seen := map[string]bool{}
	add := func(vs []string) {
		for _, v := range vs {
			if !seen[v] {
				seen[v] = true
				all = append(all, v)
			}
		}
	}
	add(p.Values)
	for _, name := range p.Names() {
		add(p.Groups[name])
	}
	return all
}

// Named returns the group called name (matched case-insensitively, as .NET configuration keys are), or nil.
func (p PermissionSet) Named(name string) []string {
	if g, ok := p.Groups[name]; ok {
		return g
	}
	for k, g := range p.Groups {
		if strings.EqualFold(k, name) {
			return g
		}
	}
	return nil
}

// Names returns the group names, sorted.
func (p PermissionSet) Names() []string {
	names := make([]string, 0, len(p.Groups))
	for k := range p.Groups {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// IsEmpty reports whether the set holds no permission at all.
func (p PermissionSet) IsEmpty() bool { return len(p.All()) == 0 }

// IsConfigured reports whether the AzureAd section says anything about the app's identity. When it does not,
// the samples run in local mode against the emulator.
func (a AzureAdOptions) IsConfigured() bool {
	return a.Instance != "" || a.TenantID != "" || a.ClientID != "" || a.Domain != "" || a.Authority != "" ||
		a.ClientSecret != "" || len(a.ClientCredentials) > 0 || len(a.ClientCertificates) > 0
}

// InstanceURL returns the cloud's sign-in URL with exactly one trailing slash: Instance, else the scheme and
// host of Authority, else DefaultInstance.
func (a AzureAdOptions) InstanceURL() string {
	if a.Instance != "" {
		return strings.TrimRight(a.Instance, "/") + "/"
	}
	if base, _, ok := splitAuthority(a.Authority); ok {
		return base + "/"
	}
	return DefaultInstance
}

// Tenant returns the tenant path segment: TenantId, else the first path segment of Authority. It is a tenant
// ID, a domain, common or organizations, or empty when neither is set.
func (a AzureAdOptions) Tenant() string {
	if a.TenantID != "" {
		return a.TenantID
	}
	_, tenant, _ := splitAuthority(a.Authority)
	return tenant
}

// AuthorityURL returns https://host/{tenant} without /v2.0, from Instance and TenantId or from Authority; it
// is empty when no tenant is configured.
func (a AzureAdOptions) AuthorityURL() string {
	tenant := a.Tenant()
	if tenant == "" {
		return ""
	}
	return a.InstanceURL() + tenant
}

// IsMultiTenant reports whether the tenant is common or organizations: any Entra tenant's users may sign in.
func (a AzureAdOptions) IsMultiTenant() bool {
	t := a.Tenant()
	return strings.EqualFold(t, "common") || strings.EqualFold(t, "organizations")
}

// Credentials returns the client credentials to try, in order: ClientCredentials, then ClientCertificates,
// then the legacy ClientSecret. Entries marked Skip are left out.
func (a AzureAdOptions) Credentials() []CredentialDescription {
	var creds []CredentialDescription
	for _, list := range [][]CredentialDescription{a.ClientCredentials, a.ClientCertificates} {
		for _, c := range list {
			if !c.Skip {
				creds = append(creds, c)
			}
		}
	}
	if a.ClientSecret != "" {
		creds = append(creds, CredentialDescription{SourceType: SourceClientSecret, ClientSecret: a.ClientSecret})
	}
	return creds
}

// DownstreamAPI returns the DownstreamApis entry called name, matched case-insensitively.
func (c *Config) DownstreamAPI(name string) (DownstreamAPIOptions, bool) {
	if d, ok := c.DownstreamApis[name]; ok {
		return d, true
	}
	for k, d := range c.DownstreamApis {
		if strings.EqualFold(k, name) {
			return d, true
		}
	}
	return DownstreamAPIOptions{}, false
}

// splitAuthority splits an authority URL such as https://login.microsoftonline.com/contoso.com/v2.0 into its
// base (https://login.microsoftonline.com) and tenant (contoso.com).
func splitAuthority(authority string) (base, tenant string, ok bool) {
	if authority == "" {
		return "", "", false
	}
	u, err := url.Parse(authority)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", false
	}
	tenant, _, _ = strings.Cut(strings.TrimLeft(u.Path, "/"), "/")
	return u.Scheme + "://" + u.Host, tenant, tenant != ""
}
