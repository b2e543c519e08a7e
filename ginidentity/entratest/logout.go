package entratest

import (
	"net/http"
	"net/url"
	"strings"
)

// handleLogout serves the end-session endpoint /{tenant}/oauth2/v2.0/logout. It ends the browser's sign-in
// session and clears its cookie, then redirects to post_logout_redirect_uri (with state) when that URI is
// registered on the app named by client_id or by the id_token_hint's audience. Otherwise it shows a
// signed-out page and redirects nowhere, as Entra does.
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		e.errorPage(w, newError("invalid_request", 90023, "The request is malformed: %v.", err))
		return
	}
	seg := r.PathValue("tenant")
	if _, kind, ok := e.resolveTenant(seg); !ok || kind == tenantConsumers {
		e.errorPage(w, newError("invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", seg))
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		e.state.endSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteNoneMode})

	target := r.Form.Get("post_logout_redirect_uri")
	if target == "" {
		e.page(w, http.StatusOK, "signed_out", pageData{Title: "Sign out"})
		return
	}
	client := e.logoutClient(r.Form.Get("client_id"), r.Form.Get("id_token_hint"))
	if client == nil || !uriRegistered(client.PostLogoutRedirectURIs, target) {
		e.logf("logout: post_logout_redirect_uri not registered; not redirecting")
		e.page(w, http.StatusOK, "signed_out", pageData{Title: "Sign out",
			Error: "The post_logout_redirect_uri is not a registered sign-out URI of the application named by client_id or id_token_hint, so you stay on this page."})
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		e.page(w, http.StatusOK, "signed_out", pageData{Title: "Sign out"})
		return
	}
	if state := r.Form.Get("state"); state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	redirect(w, u.String())
}

// logoutClient finds the app the sign-out is for: client_id, or else the audience of the id_token_hint, an
// ID token this emulator signed (expired ones are accepted, as Entra does).
func (e *Emulator) logoutClient(clientID, idTokenHint string) *App {
	if clientID != "" {
		return e.dir.app(clientID)
	}
	if idTokenHint == "" {
		return nil
	}
	tok, err := e.parseSigned(idTokenHint)
	if err != nil {
		e.logf("logout: id_token_hint ignored: %v", err)
		return nil
	}
	aud := tok.Audience()
	if len(aud) != 1 || !strings.HasPrefix(tok.Issuer(), e.url+"/") {
		return nil
	}
	return e.dir.app(aud[0])
}
