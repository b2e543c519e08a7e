package entratest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Directory is what the emulator knows: tenants, users, and applications with their credentials, redirect
// URIs, exposed scopes and app roles, and the permissions granted to them. DefaultDirectory returns the one
// the samples use; LoadDirectory reads another from a JSON file of the same shape.
type Directory struct {
	Tenants []Tenant `json:"tenants"`
	Users   []User   `json:"users"`
	Apps    []App    `json:"apps"`
}

// Tenant is a directory (an Entra tenant).
type Tenant struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
	Name   string `json:"name,omitempty"`
}

// User is a user account. Users sign in with UserPrincipalName and Password on the emulator's form.
type User struct {
	ObjectID          string `json:"objectId"`
	TenantID          string `json:"tenantId"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	GivenName         string `json:"givenName,omitempty"`
	Surname           string `json:"surname,omitempty"`
	Mail              string `json:"mail,omitempty"`
	JobTitle          string `json:"jobTitle,omitempty"`
	Password          string `json:"password"`
}

// App is an application registration together with its service principal. An app can be a client (it has
// credentials, redirect URIs and granted permissions), a resource (it exposes scopes and app roles), or both.
type App struct {
	ClientID    string `json:"clientId"`
	DisplayName string `json:"displayName"`
	// TenantID is the home tenant of the registration.
	TenantID string `json:"tenantId"`
	// ObjectID is the service principal's object id: the oid and sub of the app's own app-only tokens.
	ObjectID string `json:"objectId"`
	// MultiTenant apps can be used from every tenant of the directory; others only from their home tenant.
	MultiTenant bool `json:"multiTenant,omitempty"`

	// Secrets are client secrets; Certificates are PEM-encoded certificates for client assertions.
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	// PublicClient apps may redeem codes without a credential.
	PublicClient bool `json:"publicClient,omitempty"`
	// ManagedIdentity marks the service principal of a managed identity: it gets tokens from the managed
	// identity endpoint, never from the token endpoint. The first one in the directory is the system-assigned
	// identity; the others are user-assigned ones, chosen by client_id or object_id.
	ManagedIdentity bool `json:"managedIdentity,omitempty"`

	RedirectURIs           []string `json:"redirectUris,omitempty"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris,omitempty"`

	// IdentifierURIs are the App ID URIs by which the app is requested as a resource (api://..., https://...).
	IdentifierURIs []string `json:"identifierUris,omitempty"`
	// Scopes are the delegated permissions the app exposes as a resource.
	Scopes []string `json:"scopes,omitempty"`
	// AppRoles are the application permissions the app exposes as a resource.
	AppRoles []string `json:"appRoles,omitempty"`
	// AccessTokenVersion is the version of access tokens issued for this resource: 2 (default) or 1.
	AccessTokenVersion int `json:"accessTokenVersion,omitempty"`

	// ConsentedScopes are delegated permissions consented for every user (admin consent), by resource
	// (client id or identifier URI of the resource app).
	ConsentedScopes map[string][]string `json:"consentedScopes,omitempty"`
	// GrantedRoles are application permissions granted to this app, by resource.
	GrantedRoles map[string][]string `json:"grantedRoles,omitempty"`
}

// The default directory's identifiers. Secrets and passwords are for development only.
const (
	ContosoTenantID  = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
	ContosoDomain    = "contoso.onmicrosoft.com"
	FabrikamTenantID = "bbbbcccc-1111-dddd-2222-eeee3333ffff"
	FabrikamDomain   = "fabrikam.onmicrosoft.com"

	Alice        = "alice@contoso.onmicrosoft.com"
	Bob          = "bob@contoso.onmicrosoft.com"
	Carol        = "carol@fabrikam.onmicrosoft.com"
	UserPassword = "dev-password"

	WebAppClientID = "00001111-aaaa-2222-bbbb-3333cccc4444"
	WebAppSecret   = "webapp-dev-secret"
	WebAPIClientID = "11112222-bbbb-3333-cccc-4444dddd5555"
	WebAPISecret   = "webapi-dev-secret"
	WebAPIAppIDURI = "api://" + WebAPIClientID
	DaemonClientID = "22223333-cccc-4444-dddd-5555eeee6666"
	DaemonSecret   = "daemon-dev-secret"

	GraphAppID              = "00000003-0000-0000-c000-000000000000"
	GraphResource           = "https://graph.microsoft.com"
	StorageAppID            = "e406a681-f3d4-42a8-90b6-c2b029497af1"
	StorageResource         = "https://storage.azure.com"
	ManagedIdentityClientID = "33334444-dddd-5555-eeee-6666ffff7777"
)

// DefaultDirectory returns the directory every sample's local mode uses: tenants contoso and fabrikam, users
// alice, bob and carol (password dev-password), the sample web app, web API and daemon, Microsoft Graph and
// Azure Storage as resources, and a managed identity.
func DefaultDirectory() *Directory {
	return &Directory{
		Tenants: []Tenant{
			{ID: ContosoTenantID, Domain: ContosoDomain, Name: "Contoso"},
			{ID: FabrikamTenantID, Domain: FabrikamDomain, Name: "Fabrikam"},
		},
		Users: []User{
			{ObjectID: "a11ce000-0000-4000-8000-00000000a11c", TenantID: ContosoTenantID, UserPrincipalName: Alice,
				DisplayName: "Alice Smith", GivenName: "Alice", Surname: "Smith", Mail: Alice, JobTitle: "Engineer", Password: UserPassword},
			{ObjectID: "b0b00000-0000-4000-8000-000000000b0b", TenantID: ContosoTenantID, UserPrincipalName: Bob,
				DisplayName: "Bob Jones", GivenName: "Bob", Surname: "Jones", Mail: Bob, JobTitle: "Designer", Password: UserPassword},
			{ObjectID: "ca401000-0000-4000-8000-0000000ca401", TenantID: FabrikamTenantID, UserPrincipalName: Carol,
				DisplayName: "Carol Lee", GivenName: "Carol", Surname: "Lee", Mail: Carol, JobTitle: "Manager", Password: UserPassword},
		},
		Apps: []App{
			{
				ClientID: WebAppClientID, DisplayName: "sample-webapp", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a001", MultiTenant: true,
				Secrets:                []string{WebAppSecret},
				RedirectURIs:           []string{"http://localhost:5000/signin-oidc"},
				PostLogoutRedirectURIs: []string{"http://localhost:5000/signout-callback-oidc"},
				ConsentedScopes: map[string][]string{
					GraphResource:  {"User.Read"},
					WebAPIClientID: {"ToDoList.Read"},
				},
			},
			{
				ClientID: WebAPIClientID, DisplayName: "sample-webapi", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a002", MultiTenant: true,
				Secrets:            []string{WebAPISecret},
				IdentifierURIs:     []string{WebAPIAppIDURI},
				Scopes:             []string{"ToDoList.Read", "ToDoList.ReadWrite"},
				AppRoles:           []string{"ToDoList.Read.All", "ToDoList.ReadWrite.All"},
				AccessTokenVersion: 2,
				ConsentedScopes:    map[string][]string{GraphResource: {"User.Read"}},
			},
			{
				ClientID: DaemonClientID, DisplayName: "sample-daemon", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a003",
				Secrets:  []string{DaemonSecret},
				GrantedRoles: map[string][]string{
					WebAPIClientID: {"ToDoList.Read.All"},
					GraphResource:  {"User.Read.All"},
				},
			},
			{
				ClientID: ManagedIdentityClientID, DisplayName: "sample-managed-identity", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a004", ManagedIdentity: true,
				GrantedRoles: map[string][]string{
					WebAPIClientID: {"ToDoList.Read.All"},
					GraphResource:  {"User.Read.All"},
				},
			},
			{
				ClientID: GraphAppID, DisplayName: "Microsoft Graph", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a0f1", MultiTenant: true,
				IdentifierURIs:     []string{GraphResource, "https://graph.microsoft.com/"},
				Scopes:             []string{"User.Read", "Mail.Read", "User.Read.All"},
				AppRoles:           []string{"User.Read.All", "Mail.Read"},
				AccessTokenVersion: 1,
			},
			{
				ClientID: StorageAppID, DisplayName: "Azure Storage", TenantID: ContosoTenantID,
				ObjectID: "5e7a0000-0000-4000-8000-00000000a0f2", MultiTenant: true,
				IdentifierURIs:     []string{StorageResource, "https://storage.azure.com/"},
				Scopes:             []string{"user_impersonation"},
				AccessTokenVersion: 1,
			},
		},
	}
}

// LoadDirectory reads a directory from a JSON file shaped like DefaultDirectory's JSON encoding.
func LoadDirectory(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("entratest: read directory: %w", err)
	}
	var d Directory
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("entratest: parse directory %s: %w", path, err)
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("entratest: directory %s: %w", path, err)
	}
	return &d, nil
}

func (d *Directory) validate() error {
	if len(d.Tenants) == 0 {
		return fmt.Errorf("no tenants: add one to \"tenants\"")
	}
	for _, u := range d.Users {
		if d.tenant(u.TenantID) == nil {
			return fmt.Errorf("user %s: unknown tenantId %q", u.UserPrincipalName, u.TenantID)
		}
		if u.ObjectID == "" {
			return fmt.Errorf("user %s: objectId is required", u.UserPrincipalName)
		}
	}
	for _, a := range d.Apps {
		if a.ClientID == "" {
			return fmt.Errorf("app %q: clientId is required", a.DisplayName)
		}
		if d.tenant(a.TenantID) == nil {
			return fmt.Errorf("app %s: unknown tenantId %q", a.ClientID, a.TenantID)
		}
	}
	return nil
}

// tenant finds a tenant by id or domain, ignoring case.
func (d *Directory) tenant(idOrDomain string) *Tenant {
	for i := range d.Tenants {
		t := &d.Tenants[i]
		if strings.EqualFold(t.ID, idOrDomain) || strings.EqualFold(t.Domain, idOrDomain) {
			return t
		}
	}
	return nil
}

// user finds a user by user principal name or object id, ignoring case.
func (d *Directory) user(nameOrID string) *User {
	for i := range d.Users {
		u := &d.Users[i]
		if strings.EqualFold(u.UserPrincipalName, nameOrID) || strings.EqualFold(u.ObjectID, nameOrID) {
			return u
		}
	}
	return nil
}

// app finds an app by client id.
func (d *Directory) app(clientID string) *App {
	for i := range d.Apps {
		if strings.EqualFold(d.Apps[i].ClientID, clientID) {
			return &d.Apps[i]
		}
	}
	return nil
}

// resource finds the app requested as a resource by its client id or one of its identifier URIs.
func (d *Directory) resource(idOrURI string) *App {
	if a := d.app(idOrURI); a != nil {
		return a
	}
	trimmed := strings.TrimSuffix(idOrURI, "/")
	for i := range d.Apps {
		for _, u := range d.Apps[i].IdentifierURIs {
			if strings.EqualFold(strings.TrimSuffix(u, "/"), trimmed) {
				return &d.Apps[i]
			}
		}
	}
	return nil
}

// availableIn reports whether the app can be used in the tenant.
func (a *App) availableIn(tenantID string) bool {
	return a.MultiTenant || strings.EqualFold(a.TenantID, tenantID)
}

// tokenVersion is the access token version the resource accepts.
func (a *App) tokenVersion() int {
	if a.AccessTokenVersion == 1 {
		return 1
	}
	return 2
}

// hasScope reports whether the resource exposes the delegated scope (case-insensitive, as Entra).
func (a *App) hasScope(scope string) bool {
	return slices.ContainsFunc(a.Scopes, func(s string) bool { return strings.EqualFold(s, scope) })
}

// hasAppRole reports whether the resource exposes the app role (case-insensitive, as Entra).
func (a *App) hasAppRole(role string) bool {
	return slices.ContainsFunc(a.AppRoles, func(r string) bool { return strings.EqualFold(r, role) })
}

// canonicalScope returns the scope as the resource declares it.
func (a *App) canonicalScope(scope string) string {
	for _, s := range a.Scopes {
		if strings.EqualFold(s, scope) {
			return s
		}
	}
	return scope
}

// consentedFor returns the delegated scopes admin-consented for this client on the resource.
func (a *App) consentedFor(resource *App) []string {
	for key, scopes := range a.ConsentedScopes {
		if r := resourceKeyMatches(resource, key); r {
			return scopes
		}
	}
	return nil
}

// rolesFor returns the app roles granted to this client on the resource.
func (a *App) rolesFor(resource *App) []string {
	for key, roles := range a.GrantedRoles {
		if resourceKeyMatches(resource, key) {
			return roles
		}
	}
	return nil
}

func resourceKeyMatches(resource *App, key string) bool {
	if strings.EqualFold(resource.ClientID, key) {
		return true
	}
	for _, u := range resource.IdentifierURIs {
		if strings.EqualFold(strings.TrimSuffix(u, "/"), strings.TrimSuffix(key, "/")) {
			return true
		}
	}
	return false
}
