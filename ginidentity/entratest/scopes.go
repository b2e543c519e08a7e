package entratest

import (
	"slices"
	"strings"
)

// oidcScopes are the OpenID Connect scopes: they ask for an ID token, a refresh token or profile claims, not
// for access to a resource.
var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

// scopeRequest is the scope parameter of a token request, understood as Entra does: OpenID Connect scopes,
// and scopes of at most one resource, named as {resourceIdOrURI}/{scope} or, for Microsoft Graph, by their
// bare name.
type scopeRequest struct {
	raw    string
	oidc   []string // the OpenID Connect scopes requested, lower case
	asSent []string // the resource scopes as requested, for the response's scope

	resource *App   // nil when only OpenID Connect scopes were requested
	prefix   string // how the resource was named: its client id or identifier URI, "" for bare Graph names
	names    []string
	// dotDefault is set for {resource}/.default: every permission consented or granted.
	dotDefault bool
}

func (s *scopeRequest) has(oidcScope string) bool { return slices.Contains(s.oidc, oidcScope) }

// audience is how the resource was named, the aud of its v1.0 tokens.
func (s *scopeRequest) audience() string {
	if s.prefix == "" {
		return firstOr(s.resource.IdentifierURIs, s.resource.ClientID)
	}
	return s.prefix
}

// parseScopes parses a scope parameter. tenantName names the tenant in the error for an unknown resource.
func (e *Emulator) parseScopes(raw, tenantName string) (*scopeRequest, *oauthError) {
	sr := &scopeRequest{raw: raw}
	for _, tok := range strings.Fields(raw) {
		if i := slices.Index(oidcScopes, strings.ToLower(tok)); i >= 0 {
			if !sr.has(oidcScopes[i]) {
				sr.oidc = append(sr.oidc, oidcScopes[i])
			}
			continue
		}
		prefix, name := "", tok
		if i := strings.LastIndexByte(tok, '/'); i >= 0 {
			prefix, name = strings.TrimRight(tok[:i], "/"), tok[i+1:]
			if prefix == "" || name == "" {
				return nil, invalidScope(tok)
			}
		}
		var res *App
		if prefix == "" {
			res = e.dir.resource(GraphAppID)
		} else {
			res = e.dir.resource(prefix)
		}
		if res == nil {
			if prefix == "" {
				return nil, invalidScope(tok)
			}
			return nil, newError("invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", prefix, tenantName)
		}
		switch {
		case sr.resource == nil:
			sr.resource, sr.prefix = res, prefix
		case sr.resource != res:
			return nil, newError("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", raw)
		}
		sr.asSent = append(sr.asSent, tok)
		if name == ".default" {
			sr.dotDefault = true
			continue
		}
		if !res.hasScope(name) {
			return nil, invalidScope(tok)
		}
		sr.names = append(sr.names, res.canonicalScope(name))
	}
	if sr.dotDefault && len(sr.names) > 0 {
		return nil, newError("invalid_scope", 70011, "The provided value for the input parameter 'scope' isn't valid. The scope %s isn't valid: .default cannot be combined with other scopes of the same resource.", raw)
	}
	return sr, nil
}

func invalidScope(scope string) *oauthError {
	return newError("invalid_scope", 70011, "The provided value for the input parameter 'scope' isn't valid. The scope %s isn't valid.", scope)
}

// grantedScope returns the scopes for the response's scope parameter: each scope as it was requested, the
// other consented scopes of the resource in the same form, then the OpenID Connect scopes requested. MSAL
// treats a requested scope missing from the response as declined.
func (s *scopeRequest) grantedScope(consented []string) string {
	out := slices.Clone(s.asSent)
	for _, c := range consented {
		if !slices.ContainsFunc(s.names, func(n string) bool { return strings.EqualFold(n, c) }) {
			if s.prefix == "" {
				out = append(out, c)
			} else {
				out = append(out, s.prefix+"/"+c)
			}
		}
	}
	out = append(out, s.oidc...)
	return strings.Join(out, " ")
}

// missingConsent returns the first requested scope that is not consented, or "".
func (s *scopeRequest) missingConsent(consented []string) string {
	for _, n := range s.names {
		if !slices.ContainsFunc(consented, func(c string) bool { return strings.EqualFold(c, n) }) {
			return n
		}
	}
	return ""
}
