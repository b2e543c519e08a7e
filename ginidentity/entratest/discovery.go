package entratest

import (
	"net/http"
	"strings"
)

// routes maps Entra's paths to the emulator's handlers, each behind its fault switch.
func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.withFaults(EndpointDiscovery, e.handleDiscovery))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.withFaults(EndpointKeys, e.handleKeys))
	mux.HandleFunc("GET /{tenant}/discovery/keys", e.withFaults(EndpointKeys, e.handleKeys))
	mux.HandleFunc("GET /common/discovery/instance", e.withFaults(EndpointInstanceDiscovery, e.handleInstanceDiscovery))
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", e.withFaults(EndpointAuthorize, e.handleAuthorize))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", e.withFaults(EndpointAuthorize, e.handleAuthorize))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", e.withFaults(EndpointToken, e.handleToken))
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", e.withFaults(EndpointLogout, e.handleLogout))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/logout", e.withFaults(EndpointLogout, e.handleLogout))
	mux.HandleFunc("GET /msi/token", e.withFaults(EndpointManagedIdentity, e.handleManagedIdentity))
	mux.HandleFunc("GET /emulator/ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(e.ca.caPEM)
	})
	// Microsoft Graph lives on its own host in Entra's world; here it shares the emulator's, under /v1.0/,
	// dispatched before the mux because its paths overlap the {tenant} patterns.
	graph := e.withFaults(EndpointGraph, e.handleGraph)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			graph(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// handleDiscovery serves the OpenID Provider configuration of a tenant. For common and organizations the
// issuer is the {tenantid} template, as Entra's.
func (e *Emulator) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("tenant")
	t, kind, ok := e.resolveTenant(seg)
	if !ok || kind == tenantConsumers {
		e.writeError(w, newError("invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", seg))
		return
	}
	issuer := e.url + "/{tenantid}/v2.0"
	if kind == tenantSpecific {
		issuer = e.issuerV2(t.ID)
	}
	base := e.url + "/" + seg
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     e.url + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
			"cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
			"preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                base + "/kerberos",
		"code_challenge_methods_supported": []string{"plain", "S256"},
		"tenant_region_scope":              "NA",
		"cloud_instance_name":              "microsoftonline.com",
		"cloud_graph_host_name":            "graph.windows.net",
		"msgraph_host":                     "graph.microsoft.com",
		"rbac_url":                         "https://pas.windows.net",
	})
}

// handleKeys serves the JWKS: the current signing key and the retired ones still published, without alg.
func (e *Emulator) handleKeys(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("tenant")
	t, kind, ok := e.resolveTenant(seg)
	if !ok {
		e.writeError(w, newError("invalid_tenant", 90002, "Tenant '%s' not found.", seg))
		return
	}
	issuer := e.url + "/{tenantid}/v2.0"
	if kind == tenantSpecific {
		issuer = e.issuerV2(t.ID)
	}
	var keys []map[string]any
	for _, k := range e.keys.published() {
		keys = append(keys, k.publicJWK(issuer))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// handleInstanceDiscovery answers MSAL's instance discovery: this host is its own cloud.
func (e *Emulator) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	authz := r.URL.Query().Get("authorization_endpoint")
	tenant := "common"
	host := strings.TrimPrefix(e.url, "https://")
	if rest, ok := strings.CutPrefix(authz, e.url+"/"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 {
			tenant = rest[:i]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": e.url + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}
