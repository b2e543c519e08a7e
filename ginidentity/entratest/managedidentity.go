package entratest

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
)

// appServiceAPIVersion is the api-version of the App Service managed identity protocol MSAL Go speaks.
const appServiceAPIVersion = "2019-08-01"

// ManagedIdentityEndpoint is the value of IDENTITY_ENDPOINT for a client of the emulator's managed identity
// endpoint, which speaks Azure App Service's protocol. Set IDENTITY_HEADER to IdentityHeader.
func (e *Emulator) ManagedIdentityEndpoint() string { return e.url + "/msi/token" }

// IdentityHeader is the value of IDENTITY_HEADER: the secret the managed identity endpoint expects in the
// X-IDENTITY-HEADER request header.
func (e *Emulator) IdentityHeader() string { return e.identityHeader }

// miResponse is the App Service managed identity endpoint's answer.
type miResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// handleManagedIdentity serves GET /msi/token?resource=...&api-version=2019-08-01[&client_id=|object_id=]
// with the X-IDENTITY-HEADER header: an app-only token for the managed identity, with the app roles granted
// to it on the resource.
func (e *Emulator) handleManagedIdentity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(e.identityHeader)) != 1 {
		writeMIError(w, http.StatusUnauthorized, "unauthorized", "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
		return
	}
	if v := q.Get("api-version"); v != appServiceAPIVersion {
		writeMIError(w, http.StatusBadRequest, "invalid_request", "api-version '"+v+"' is not supported: use "+appServiceAPIVersion+".")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		writeMIError(w, http.StatusBadRequest, "invalid_request", "The request must contain the 'resource' query parameter.")
		return
	}
	if q.Has("mi_res_id") {
		writeMIError(w, http.StatusBadRequest, "invalid_request", "mi_res_id is not supported by the emulator: select a user-assigned identity by client_id or object_id.")
		return
	}
	mi := e.managedIdentity(q.Get("client_id"), q.Get("object_id"))
	if mi == nil {
		writeMIError(w, http.StatusBadRequest, "invalid_request", "No managed identity matches the request: the directory has no such managed identity.")
		return
	}
	res := e.dir.resource(strings.TrimSuffix(resource, "/.default"))
	if res == nil {
		writeMIError(w, http.StatusBadRequest, "invalid_resource", "AADSTS500011: The resource principal named "+resource+" was not found in the tenant named "+mi.TenantID+".")
		return
	}
	var roles []string
	for _, role := range mi.rolesFor(res) {
		if res.hasAppRole(role) {
			roles = append(roles, role)
		}
	}
	tok, life, err := e.appToken(grant{client: mi, resource: res, audience: strings.TrimSuffix(resource, "/.default"), tenantID: mi.TenantID,
		roles: roles, clientAuth: acrCertificate})
	if err != nil {
		writeMIError(w, http.StatusInternalServerError, "server_error", "The token could not be signed.")
		return
	}
	writeJSON(w, http.StatusOK, miResponse{AccessToken: tok, ExpiresOn: strconv.FormatInt(e.now().Add(life).Unix(), 10),
		Resource: resource, TokenType: "Bearer", ClientID: mi.ClientID})
}

// managedIdentity finds the managed identity a request selects: by client id or object id (user-assigned),
// or the first managed identity of the directory (system-assigned).
func (e *Emulator) managedIdentity(clientID, objectID string) *App {
	for i := range e.dir.Apps {
		a := &e.dir.Apps[i]
		if !a.ManagedIdentity {
			continue
		}
		switch {
		case clientID != "":
			if strings.EqualFold(a.ClientID, clientID) {
				return a
			}
		case objectID != "":
			if strings.EqualFold(a.ObjectID, objectID) {
				return a
			}
		default:
			return a
		}
	}
	return nil
}

func writeMIError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "error": code, "error_description": msg, "message": msg})
}
