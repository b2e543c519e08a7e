package ginidentity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ConfigError is one problem with the configuration. Its message names the setting with .NET's path syntax and
// says how to fix it: "AzureAd:ClientId is required: set it in appsettings.json or AzureAd__ClientId". Loading
// and validation return every problem at once, joined with errors.Join; use errors.As to get the first.
// A message never contains a secret.
type ConfigError struct {
	Field   string // the setting, "AzureAd:ClientCredentials:0:ClientSecret"; empty for a problem with the file
	Problem string // what is wrong, "is required"
	Fix     string // what to do about it
	// Source is where the offending value came from: "appsettings.json:12:7" or "environment variable
	// AzureAd__ClientId". Empty when the Config was built in code.
	Source string
	Err    error // the underlying error, if any
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + " ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(": " + e.Fix)
	}
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Default paths of the web app's sign-in callbacks.
const (
	DefaultCallbackPath          = "/signin-oidc"
	DefaultSignedOutCallbackPath = "/signout-callback-oidc"
)

// SetDefaults fills the settings left empty with Microsoft.Identity.Web's defaults: CallbackPath,
// SignedOutCallbackPath, Instance (when the AzureAd section is configured without an Authority), each
// downstream API's HttpMethod, AcceptHeader, ContentType and ProtocolScheme, and MicrosoftGraph's BaseUrl and
// Scopes. It also writes each SourceType and HttpMethod in its canonical form ("clientsecret" and "6" become
// ClientSecret, "Get" becomes GET). The Validate methods call it; like them, it must not run concurrently with
// other uses of the Config.
func (c *Config) SetDefaults() {
	a := &c.AzureAd
	if a.IsConfigured() && a.Instance == "" && a.Authority == "" {
		a.Instance = DefaultInstance
	}
	setDefault(&a.CallbackPath, DefaultCallbackPath)
	setDefault(&a.SignedOutCallbackPath, DefaultSignedOutCallbackPath)
	for _, list := range [][]CredentialDescription{a.ClientCredentials, a.ClientCertificates} {
		for i := range list {
			if s, ok := canonicalSource(list[i].SourceType); ok {
				list[i].SourceType = s
			}
		}
	}
	for name, d := range c.DownstreamApis {
		if m := strings.ToUpper(d.HTTPMethod); httpMethods[m] {
			d.HTTPMethod = m
		}
		setDefault(&d.HTTPMethod, "GET")
		setDefault(&d.AcceptHeader, "application/json")
		setDefault(&d.ContentType, "application/json")
		setDefault(&d.ProtocolScheme, "Bearer")
		c.DownstreamApis[name] = d
	}
	setDefault(&c.MicrosoftGraph.BaseURL, DefaultGraphBaseURL)
	if len(c.MicrosoftGraph.Scopes) == 0 {
		c.MicrosoftGraph.Scopes = []string{DefaultGraphScope}
	}
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// canonicalSource returns the source named s in any case, or by its .NET enum number.
func canonicalSource(s CredentialSource) (CredentialSource, bool) {
	if n, err := strconv.Atoi(string(s)); err == nil && n >= 0 && n < len(credentialSources) {
		return credentialSources[n], true
	}
	for _, cs := range credentialSources {
		if strings.EqualFold(string(cs), string(s)) {
			return cs, true
		}
	}
	return s, false
}

// Validate applies the defaults (see SetDefaults) and checks the form of every setting: URLs, paths, IDs,
// credential descriptions, downstream APIs. When the AzureAd section is configured it also requires ClientId
// and a tenant. LoadConfig calls it. It returns every problem at once (errors.Join of *ConfigError).
func (c *Config) Validate() error { return c.validate(roleAny) }

// ValidateWebAPI is Validate plus what a web API needs to check bearer tokens: ClientId and a tenant.
func (c *Config) ValidateWebAPI() error { return c.validate(roleWebAPI) }

// ValidateWebApp is Validate plus what a web app needs to sign users in and call APIs for them: ClientId, a
// tenant and at least one usable client credential (ClientCredentials, ClientCertificates or ClientSecret).
func (c *Config) ValidateWebApp() error { return c.validate(roleWebApp) }

// ValidateDaemon is Validate plus what a daemon needs to get app tokens: ClientId, a specific tenant (not
// common or organizations) and at least one usable client credential.
func (c *Config) ValidateDaemon() error { return c.validate(roleDaemon) }

type role int

const (
	roleAny role = iota
	roleWebAPI
	roleWebApp
	roleDaemon
)

func (r role) String() string {
	return [...]string{"", "a web API", "a web app", "a daemon"}[r]
}

func (c *Config) validate(r role) error {
	c.SetDefaults()
	v := &validator{sources: c.sources}
	a := c.AzureAd
	if r != roleAny || a.IsConfigured() {
		v.identity(a, r)
	}
	v.azureAdForm(a)
	names := make([]string, 0, len(c.DownstreamApis))
	for name := range c.DownstreamApis {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v.downstreamAPI("DownstreamApis:"+name, c.DownstreamApis[name])
	}
	v.serviceURL("MicrosoftGraph:BaseUrl", c.MicrosoftGraph.BaseURL)
	v.stores(c)
	return errors.Join(v.errs...)
}

// validator collects ConfigErrors, locating each through the sources recorded when the file was loaded.
type validator struct {
	errs    []error
	sources map[string]string
}

func (v *validator) add(field, problem, fix string) {
	v.errs = append(v.errs, &ConfigError{Field: field, Problem: problem, Fix: fix, Source: v.source(field)})
}

// source returns where field's value came from or, for a missing value, where its nearest parent section is.
func (v *validator) source(field string) string {
	for p := strings.ToLower(field); p != ""; {
		if s, ok := v.sources[p]; ok {
			return s
		}
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

// required reports a missing setting, saying where to set it.
func (v *validator) required(field, why string) {
	v.add(field, "is required"+why, "set it in appsettings.json or "+envName(field))
}

// envName is the environment variable that sets a configuration path.
func envName(field string) string { return strings.ReplaceAll(field, ":", "__") }

// identity checks that the app has an identity the role can use.
func (v *validator) identity(a AzureAdOptions, r role) {
	why := ""
	if r != roleAny {
		why = " for " + r.String()
	}
	if a.ClientID == "" {
		v.required("AzureAd:ClientId", why)
	}
	switch tenant := a.Tenant(); {
	case tenant == "":
		v.add("AzureAd:TenantId", "is required"+why,
			"set it (or AzureAd:Authority) in appsettings.json or AzureAd__TenantId, to your tenant's ID or domain, or to common or organizations for a multi-tenant app")
	case r == roleDaemon && (a.IsMultiTenant() || strings.EqualFold(tenant, "consumers")):
		v.add("AzureAd:TenantId", fmt.Sprintf("is %q, but a daemon's app tokens come from one tenant", tenant),
			"set it to your tenant's ID or domain, such as contoso.onmicrosoft.com")
	}
	if r == roleWebApp || r == roleDaemon {
		if len(a.Credentials()) == 0 {
			v.add("AzureAd:ClientCredentials", "needs at least one credential for "+r.String(),
				`add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, `+
					`or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret`)
		}
	}
}

var (
	guidPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainPattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)+$`)
)

func isTenant(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return true
	}
	return guidPattern.MatchString(t) || domainPattern.MatchString(t)
}

// azureAdForm checks the form of the AzureAd settings that are set.
func (v *validator) azureAdForm(a AzureAdOptions) {
	if a.Instance != "" {
		if u, ok := v.entraURL("AzureAd:Instance", a.Instance); ok && strings.Trim(u.Path, "/") != "" {
			v.add("AzureAd:Instance", fmt.Sprintf("must not have a path (%q)", u.Path),
				"set it to the cloud's base URL such as https://login.microsoftonline.com/, and the tenant in AzureAd:TenantId")
		}
	}
	if a.TenantID != "" && !isTenant(a.TenantID) {
		v.add("AzureAd:TenantId", fmt.Sprintf("%q is not a tenant", a.TenantID),
			"use the Directory (tenant) ID from the app registration's Overview page, a domain such as contoso.onmicrosoft.com, or common or organizations")
	}
	if a.ClientID != "" && !guidPattern.MatchString(a.ClientID) {
		v.add("AzureAd:ClientId", fmt.Sprintf("%q is not an application (client) ID", a.ClientID),
			"copy the Application (client) ID, a GUID, from the app registration's Overview page")
	}
	if a.Authority != "" {
		v.authority(a)
	}
	for _, p := range []struct{ field, value, def string }{
		{"AzureAd:CallbackPath", a.CallbackPath, DefaultCallbackPath},
		{"AzureAd:SignedOutCallbackPath", a.SignedOutCallbackPath, DefaultSignedOutCallbackPath},
	} {
		if !strings.HasPrefix(p.value, "/") || strings.HasPrefix(p.value, "//") || strings.ContainsAny(p.value, "?# \t") {
			v.add(p.field, fmt.Sprintf("%q must be a path on this app starting with '/'", p.value),
				"use a path such as "+p.def+", and register the matching redirect URI")
		}
	}
	for _, list := range []struct {
		field string
		creds []CredentialDescription
	}{{"AzureAd:ClientCredentials", a.ClientCredentials}, {"AzureAd:ClientCertificates", a.ClientCertificates}} {
		for i, cd := range list.creds {
			v.credential(fmt.Sprintf("%s:%d", list.field, i), cd)
		}
	}
}

func (v *validator) authority(a AzureAdOptions) {
	u, ok := v.entraURL("AzureAd:Authority", a.Authority)
	if !ok {
		return
	}
	_, tenant, _ := splitAuthority(a.Authority)
	rest := strings.Trim(strings.TrimPrefix(strings.Trim(u.Path, "/"), tenant), "/")
	switch {
	case tenant == "":
		v.add("AzureAd:Authority", "has no tenant", "write it as https://login.microsoftonline.com/{tenant}/v2.0")
	case rest != "" && rest != "v2.0":
		v.add("AzureAd:Authority", fmt.Sprintf("has an unexpected path after the tenant (%q)", rest),
			"write it as https://login.microsoftonline.com/{tenant}/v2.0")
	case !isTenant(tenant):
		v.add("AzureAd:Authority", fmt.Sprintf("names %q, which is not a tenant", tenant),
			"use your tenant's ID or domain, or common or organizations")
	case a.TenantID != "" && !strings.EqualFold(tenant, a.TenantID):
		v.add("AzureAd:Authority", fmt.Sprintf("names tenant %q but AzureAd:TenantId is %q", tenant, a.TenantID),
			"set only one of them, or make them agree")
	}
	if a.Instance != "" {
		if iu, err := url.Parse(a.Instance); err == nil && !strings.EqualFold(iu.Host, u.Host) {
			v.add("AzureAd:Authority", fmt.Sprintf("is on %s but AzureAd:Instance is on %s", u.Host, iu.Host),
				"set only one of them, or make them agree")
		}
	}
}

// entraURL checks a URL of Microsoft Entra ID: absolute and https, loopback included (the emulator is https).
func (v *validator) entraURL(field, raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.add(field, fmt.Sprintf("%q is not an absolute URL", raw), "use a URL such as https://login.microsoftonline.com/")
	case u.Scheme != "https":
		v.add(field, "must use https", "Microsoft Entra ID is served over https only; write https://"+u.Host+u.Path)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		v.add(field, "must not have credentials, a query or a fragment", "use a URL such as https://login.microsoftonline.com/")
	default:
		return u, true
	}
	return nil, false
}

// serviceURL checks the URL of an API the app sends tokens to: https, or http to a loopback host only.
func (v *validator) serviceURL(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.add(field, fmt.Sprintf("%q is not an absolute http(s) URL", raw), "use a URL such as https://api.contoso.com/")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		v.add(field, "must use https: a token sent over http can be stolen", "write https://"+u.Host+u.Path+" (http is allowed for localhost only)")
	case u.User != nil || u.Fragment != "":
		v.add(field, "must not have credentials or a fragment", "remove them")
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clientCredentialSources are the sources that can prove the app's identity, for messages.
func clientCredentialSources() string {
	var names []string
	for _, s := range credentialSources {
		if s != SourceAutoDecryptKeys {
			names = append(names, string(s))
		}
	}
	return strings.Join(names, ", ")
}

// credential checks one client credential description.
func (v *validator) credential(path string, cd CredentialDescription) {
	if cd.SourceType == "" {
		v.add(path+":SourceType", "is required", "set it to one of "+clientCredentialSources())
		return
	}
	src, ok := canonicalSource(cd.SourceType)
	switch {
	case !ok:
		v.add(path+":SourceType", fmt.Sprintf("%q is not a credential source", cd.SourceType), "use one of "+clientCredentialSources())
		return
	case src == SourceAutoDecryptKeys:
		v.add(path+":SourceType", "AutoDecryptKeys only decrypts tokens and cannot prove the app's identity",
			"move it to AzureAd:TokenDecryptionCredentials, or use one of "+clientCredentialSources())
		return
	case cd.Skip:
		return
	}
	need := func(field, value string) {
		if value == "" {
			v.add(path+":"+field, fmt.Sprintf("is required when SourceType is %s", src), "set it in appsettings.json or "+envName(path+":"+field))
		}
	}
	switch src {
	case SourceClientSecret:
		need("ClientSecret", cd.ClientSecret)
	case SourcePath:
		need("CertificateDiskPath", cd.CertificateDiskPath)
	case SourceBase64Encoded, SourceCertificate:
		need("Base64EncodedValue", cd.Base64EncodedValue)
		clean := strings.Join(strings.Fields(cd.Base64EncodedValue), "")
		if _, err := base64.StdEncoding.DecodeString(clean); cd.Base64EncodedValue != "" && err != nil {
			v.add(path+":Base64EncodedValue", "is not valid base64", "encode the certificate file (PFX or PEM) with base64, for example `base64 -w0 cert.pfx`")
		}
	case SourceKeyVault, SourceSignedAssertionFromVault:
		need("KeyVaultUrl", cd.KeyVaultURL)
		if src == SourceKeyVault { // a vault-signed assertion may leave the key's name to the vault
			need("KeyVaultCertificateName", cd.KeyVaultCertificateName)
		}
		if cd.KeyVaultURL != "" {
			v.serviceURL(path+":KeyVaultUrl", cd.KeyVaultURL)
		}
	case SourceStoreWithThumbprint:
		need("CertificateStorePath", cd.CertificateStorePath)
		need("CertificateThumbprint", cd.CertificateThumbprint)
	case SourceStoreWithDistinguishedName:
		need("CertificateStorePath", cd.CertificateStorePath)
		need("CertificateDistinguishedName", cd.CertificateDistinguishedName)
	case SourceCustomSignedAssertion:
		need("CustomSignedAssertionProviderName", cd.CustomSignedAssertionProviderName)
	}
}

// downstreamAPI checks one DownstreamApis entry.
func (v *validator) downstreamAPI(path string, d DownstreamAPIOptions) {
	if d.BaseURL == "" {
		v.add(path+":BaseUrl", "is required", "set it to the API's base URL, such as https://localhost:44351/api, in appsettings.json or "+envName(path+":BaseUrl"))
	} else {
		v.serviceURL(path+":BaseUrl", d.BaseURL)
	}
	switch {
	case len(d.Scopes) == 0:
		v.add(path+":Scopes", "is required", `list the scopes to request, such as ["api://<client-id>/access_as_user"], or ["api://<client-id>/.default"] with RequestAppToken`)
	case d.RequestAppToken && (len(d.Scopes) != 1 || !strings.HasSuffix(d.Scopes[0], "/.default")):
		v.add(path+":Scopes", "must be a single \"{resource}/.default\" scope when RequestAppToken is true",
			"an app token carries the roles granted to the app; request e.g. api://<client-id>/.default")
	}
	if !httpMethods[d.HTTPMethod] {
		v.add(path+":HttpMethod", fmt.Sprintf("%q is not an HTTP method", d.HTTPMethod), "use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS")
	}
}
