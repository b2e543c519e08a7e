package entratest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// flowLifetime is how long a sign-in in progress (a page shown, waiting for the user's answer) stays valid.
const flowLifetime = 15 * time.Minute

// sessionCookie is the emulator's sign-in session cookie, named after Entra's.
const sessionCookie = "ESTSAUTH"

// authorizeRequest is an authorize request whose client and redirect URI have been checked: from here on
// errors go back to the redirect URI.
type authorizeRequest struct {
	path        string // the request path, where the emulator's forms post back
	seg         string // the {tenant} path segment as sent
	tenant      *Tenant
	kind        tenantKind
	client      *App
	redirectURI string // as the client sent it: the token request must repeat it
	mode        string // query, fragment or form_post
	state       string

	responseType  string
	scope         string
	scopes        []string // as requested
	resources     []resourceRequest
	nonce         string
	codeChallenge string
	method        string
	prompt        string
	loginHint     string
	claims        string
}

// resourceRequest is what an authorize request asks of one resource.
type resourceRequest struct {
	resource     *App
	scopes       []string // as the resource declares them
	defaultScope bool     // {resource}/.default
}

// flowStage is the page a sign-in in progress waits on.
type flowStage int

const (
	stageSignIn flowStage = iota
	stagePickAccount
	stageConsent
)

// authorizeFlow is a sign-in in progress: the request and what the user has done so far. Its id travels in
// the pages' forms; the request's parameters stay here.
type authorizeFlow struct {
	id      string
	req     *authorizeRequest
	stage   flowStage
	user    *User
	session *browserSession
	expires time.Time
}

func (s *state) putFlow(f *authorizeFlow, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.flows {
		if !now.Before(old.expires) {
			delete(s.flows, id)
		}
	}
	s.flows[f.id] = f
}

// takeFlow removes the flow while one request works on it, so two answers to the same page cannot race.
func (s *state) takeFlow(id string, now time.Time) (*authorizeFlow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flows[id]
	delete(s.flows, id)
	if !ok || !now.Before(f.expires) {
		return nil, false
	}
	return f, true
}

// handleAuthorize serves /{tenant}/oauth2/v2.0/authorize: a new authorize request (GET or POST), or an answer
// to one of the emulator's pages (POST with the flow id).
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		e.errorPage(w, newError("invalid_request", 90023, "The request is malformed: %v.", err))
		return
	}
	if id := r.PostForm.Get("flow"); r.Method == http.MethodPost && id != "" {
		e.continueFlow(w, r, id)
		return
	}
	req, pageErr, redirectErr := e.parseAuthorize(r)
	switch {
	case pageErr != nil:
		e.errorPage(w, pageErr)
		return
	case redirectErr != nil:
		e.respondError(w, req, redirectErr)
		return
	}
	f := &authorizeFlow{id: randomToken(32), req: req, expires: e.now().Add(flowLifetime)}
	sess, user := e.usableSession(r, req)
	switch req.prompt {
	case "none":
		if user == nil {
			e.respondError(w, req, newError("login_required", 50058,
				"A silent sign-in request was sent but no user is signed in."))
			return
		}
		f.user, f.session = user, sess
		if len(e.missingConsent(req, user)) > 0 {
			e.respondError(w, req, newError("consent_required", 65001,
				"The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.",
				req.client.ClientID, req.client.DisplayName))
			return
		}
		e.issueCode(w, f)
	case "login":
		e.showSignIn(w, f, "", nil)
	case "select_account":
		if user == nil {
			e.showSignIn(w, f, "", nil)
			return
		}
		f.stage = stagePickAccount
		e.state.putFlow(f, e.now())
		e.page(w, http.StatusOK, "pick", pageData{Title: "Pick an account", Flow: f.id, Action: req.path,
			AppName: req.client.DisplayName, Account: user})
	default:
		if user == nil {
			e.showSignIn(w, f, "", nil)
			return
		}
		f.user, f.session = user, sess
		e.afterSignIn(w, f)
	}
}

// parseAuthorize checks an authorize request. Until the client and its redirect URI are known to be good,
// errors are shown on the emulator's own page (pageErr); after that they go back to the redirect URI
// (redirectErr, with req set).
func (e *Emulator) parseAuthorize(r *http.Request) (req *authorizeRequest, pageErr, redirectErr *oauthError) {
	q := r.Form
	seg := r.PathValue("tenant")
	tenant, kind, ok := e.resolveTenant(seg)
	if !ok || kind == tenantConsumers {
		return nil, newError("invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", seg), nil
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, missingParameter("client_id"), nil
	}
	client := e.dir.app(clientID)
	if client == nil || (kind == tenantSpecific && !client.availableIn(tenant.ID)) {
		return nil, newError("unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			clientID, seg), nil
	}
	if kind != tenantSpecific && !client.MultiTenant {
		return nil, newError("invalid_request", 50194,
			"Application '%s'(%s) is not configured as a multi-tenant application. Usage of the /%s endpoint is not supported for such applications. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
			client.ClientID, client.DisplayName, strings.ToLower(seg)), nil
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		return nil, missingParameter("redirect_uri"), nil
	}
	if !uriRegistered(client.RedirectURIs, redirectURI) {
		return nil, newError("invalid_request", 50011,
			"The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
			redirectURI, client.ClientID), nil
	}

	req = &authorizeRequest{
		path: r.URL.Path, seg: seg, tenant: tenant, kind: kind, client: client, redirectURI: redirectURI, mode: "query",
		state: q.Get("state"), responseType: q.Get("response_type"), scope: q.Get("scope"), nonce: q.Get("nonce"),
		codeChallenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), prompt: q.Get("prompt"),
		loginHint: strings.TrimSpace(q.Get("login_hint")), claims: q.Get("claims"),
	}
	switch mode := q.Get("response_mode"); mode {
	case "", "query":
	case "fragment", "form_post":
		req.mode = mode
	default:
		return req, nil, newError("invalid_request", 90023, "Invalid request. The response_mode '%s' is not supported: use query, fragment or form_post.", mode)
	}
	for _, check := range []func(*authorizeRequest) *oauthError{
		checkResponseType, e.checkScopes, checkPKCE, checkPrompt, checkClaims,
	} {
		if err := check(req); err != nil {
			return req, nil, err
		}
	}
	return req, nil, nil
}

func checkResponseType(req *authorizeRequest) *oauthError {
	types := strings.Fields(req.responseType)
	switch {
	case len(types) == 0:
		return missingParameter("response_type")
	case len(types) == 1 && types[0] == "code":
		return nil
	case slices.Contains(types, "id_token"):
		return newError("unsupported_response_type", 700054, "response_type 'id_token' is not enabled for the application.")
	case slices.Contains(types, "token"):
		return newError("unsupported_response_type", 700051, "response_type 'token' is not enabled for the application.")
	}
	return newError("unsupported_response_type", 70005, "The provided value for the input parameter 'response_type' is not valid. Expected values are the following: 'code'.")
}

// checkScopes resolves the requested scopes: the OpenID Connect ones, {resource}/{scope} and
// {resource}/.default where the resource is an identifier URI or a client id, and bare names, which are
// Microsoft Graph's.
func (e *Emulator) checkScopes(req *authorizeRequest) *oauthError {
	req.scopes = strings.Fields(req.scope)
	if len(req.scopes) == 0 {
		return missingParameter("scope")
	}
	for _, s := range req.scopes {
		if slices.Contains(oidcScopes, strings.ToLower(s)) {
			continue
		}
		resourceName, name := GraphResource, s
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			resourceName, name = s[:i], s[i+1:]
		}
		res := e.dir.resource(resourceName)
		if res == nil {
			return newError("invalid_resource", 500011,
				"The resource principal named %s was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
				resourceName)
		}
		i := slices.IndexFunc(req.resources, func(rr resourceRequest) bool { return rr.resource == res })
		if i < 0 {
			req.resources = append(req.resources, resourceRequest{resource: res})
			i = len(req.resources) - 1
		}
		rr := &req.resources[i]
		switch {
		case name == ".default":
			rr.defaultScope = true
		case res.hasScope(name):
			rr.scopes = append(rr.scopes, res.canonicalScope(name))
		default:
			return newError("invalid_scope", 70011,
				"The provided value for the input parameter 'scope' is not valid. The scope '%s' does not exist on the resource '%s'.", s, resourceName)
		}
		if rr.defaultScope && len(rr.scopes) > 0 {
			return newError("invalid_scope", 70011,
				"The provided value for the input parameter 'scope' is not valid. The scope '%s' is not valid: static scope '/.default' cannot be combined with dynamic scopes of the same resource.", req.scope)
		}
	}
	return nil
}

var (
	s256Challenge  = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	plainChallenge = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// checkPKCE normalizes code_challenge_method to S256 or plain (plain when absent, as Entra) and checks the
// challenge's form.
func checkPKCE(req *authorizeRequest) *oauthError {
	if req.codeChallenge == "" {
		if req.method != "" {
			return missingParameter("code_challenge")
		}
		return nil
	}
	switch {
	case req.method == "" || strings.EqualFold(req.method, "plain"):
		req.method = "plain"
	case strings.EqualFold(req.method, "S256"):
		req.method = "S256"
	default:
		return newError("invalid_request", 50149, "Invalid Code_Challenge_method parameter: use S256 or plain.")
	}
	if (req.method == "S256" && !s256Challenge.MatchString(req.codeChallenge)) ||
		(req.method == "plain" && !plainChallenge.MatchString(req.codeChallenge)) {
		return newError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
	}
	return nil
}

func checkPrompt(req *authorizeRequest) *oauthError {
	switch req.prompt {
	case "", "none", "login", "select_account", "consent":
		return nil
	}
	return newError("invalid_request", 90023, "Invalid request. The prompt value '%s' is not supported: use none, login, select_account or consent.", req.prompt)
}

func checkClaims(req *authorizeRequest) *oauthError {
	if req.claims == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(req.claims), &m); err != nil {
		return newError("invalid_request", 90023, "Invalid request. The claims parameter is not a valid JSON object.")
	}
	return nil
}

// uriRegistered reports whether a redirect URI is one of the registered ones. As Entra, loopback URIs
// (http://localhost and http://127.0.0.1) match whatever their port; everything else must match exactly.
func uriRegistered(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	got, err := url.Parse(uri)
	if err != nil || got.Scheme != "http" || !isLoopback(got.Hostname()) || got.User != nil || got.Fragment != "" {
		return false
	}
	for _, reg := range registered {
		want, err := url.Parse(reg)
		if err == nil && want.Scheme == "http" && isLoopback(want.Hostname()) &&
			strings.EqualFold(want.Hostname(), got.Hostname()) && want.EscapedPath() == got.EscapedPath() &&
			want.RawQuery == got.RawQuery {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1"
}

// usableSession returns the browser's signed-in session and its user when they fit the request: the user
// exists, belongs to the authority's tenant (for a tenant-specific one) and is the one login_hint names.
func (e *Emulator) usableSession(r *http.Request, req *authorizeRequest) (*browserSession, *User) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	sess, ok := e.state.session(c.Value)
	if !ok {
		return nil, nil
	}
	u := e.dir.user(sess.userOID)
	if u == nil || e.refuseUser(req, u) != nil {
		return nil, nil
	}
	if req.loginHint != "" && !strings.EqualFold(req.loginHint, u.UserPrincipalName) {
		return nil, nil
	}
	return sess, u
}

// refuseUser says why the user cannot sign in to the client through this authority, or nil.
func (e *Emulator) refuseUser(req *authorizeRequest, u *User) *oauthError {
	tenantID := u.TenantID
	if req.kind == tenantSpecific {
		tenantID = req.tenant.ID
	}
	if !strings.EqualFold(u.TenantID, tenantID) || !req.client.availableIn(tenantID) {
		where := tenantID
		if t := e.dir.tenant(tenantID); t != nil {
			where = t.Domain
		}
		return newError("invalid_request", 50020,
			"User account '%s' from identity provider '%s' does not exist in tenant '%s' and cannot access the application '%s'(%s) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Microsoft Entra user account.",
			u.UserPrincipalName, e.issuerV2(u.TenantID), where, req.client.ClientID, req.client.DisplayName)
	}
	return nil
}

// continueFlow handles an answer to one of the emulator's pages.
func (e *Emulator) continueFlow(w http.ResponseWriter, r *http.Request, id string) {
	f, ok := e.state.takeFlow(id, e.now())
	if !ok {
		e.errorPage(w, newError("invalid_request", 50089, "Authentication failed due to flow token expired. Start the sign-in again from the application."))
		return
	}
	form := r.PostForm
	switch {
	case f.stage == stageSignIn && form.Has("username"):
		e.signIn(w, r, f, strings.TrimSpace(form.Get("username")), form.Get("password"))
	case f.stage == stagePickAccount && form.Get("account") == "current":
		sess, user := e.usableSession(r, f.req)
		if user == nil {
			e.showSignIn(w, f, "", nil)
			return
		}
		f.user, f.session = user, sess
		e.afterSignIn(w, f)
	case f.stage == stagePickAccount && form.Get("account") == "other":
		e.showSignIn(w, f, "", nil)
	case f.stage == stageConsent && form.Get("consent") == "accept":
		for _, rr := range f.req.resources {
			e.state.grantConsent(f.user.ObjectID, f.req.client.ClientID, rr.resource.ClientID, rr.scopes)
		}
		e.issueCode(w, f)
	case f.stage == stageConsent && form.Get("consent") == "cancel":
		oe := newError("access_denied", 65004, "User declined to consent to access the app.")
		params := e.errorParams(oe, f.req)
		params.Set("error_subcode", "cancel")
		e.respond(w, f.req, params)
	default:
		e.errorPage(w, newError("invalid_request", 90023, "Invalid request. The form does not answer the page the sign-in is on."))
	}
}

// showSignIn shows the sign-in form, with the username pre-filled (login_hint) and an error when a
// previous attempt failed.
func (e *Emulator) showSignIn(w http.ResponseWriter, f *authorizeFlow, username string, oe *oauthError) {
	if username == "" {
		username = f.req.loginHint
	}
	f.stage, f.user, f.session = stageSignIn, nil, nil
	e.state.putFlow(f, e.now())
	d := pageData{Title: "Sign in to your account", Flow: f.id, Action: f.req.path, AppName: f.req.client.DisplayName,
		Username: username}
	status := http.StatusOK
	if oe != nil {
		d.Error = fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Message)
		status = http.StatusBadRequest
	}
	e.page(w, status, "signin", d)
}

// signIn checks the credentials posted to the sign-in form and, when they are good, starts a browser
// session (the SSO cookie) for the user, ending the browser's previous one.
func (e *Emulator) signIn(w http.ResponseWriter, r *http.Request, f *authorizeFlow, username, password string) {
	u := e.userByName(username)
	if u == nil {
		where := f.req.seg
		if f.req.tenant != nil {
			where = f.req.tenant.Domain
		} else if t := e.dir.tenant(domainOf(username)); t != nil {
			where = t.Domain
		}
		e.showSignIn(w, f, username, newError("invalid_request", 50034,
			"The user account %s does not exist in the '%s' directory. To sign into this application, the account must be added to the directory.", username, where))
		return
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) != 1 || u.Password == "" {
		e.showSignIn(w, f, username, newError("invalid_grant", 50126, "Error validating credentials due to invalid username or password."))
		return
	}
	if oe := e.refuseUser(f.req, u); oe != nil {
		e.showSignIn(w, f, username, oe)
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		e.state.endSession(old.Value)
	}
	sess := &browserSession{id: randomToken(32), userOID: u.ObjectID, tenantID: u.TenantID, authTime: e.now()}
	e.state.putSession(sess)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.id, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteNoneMode})
	f.user, f.session = u, sess
	e.afterSignIn(w, f)
}

// userByName finds a user by user principal name only: object ids are not sign-in names.
func (e *Emulator) userByName(name string) *User {
	for i := range e.dir.Users {
		if strings.EqualFold(e.dir.Users[i].UserPrincipalName, name) {
			return &e.dir.Users[i]
		}
	}
	return nil
}

func domainOf(upn string) string {
	_, d, _ := strings.Cut(upn, "@")
	return d
}

// afterSignIn asks for consent when the request needs some the user has not given (or prompt=consent),
// and otherwise answers the client with a code.
func (e *Emulator) afterSignIn(w http.ResponseWriter, f *authorizeFlow) {
	if f.req.prompt != "consent" && len(e.missingConsent(f.req, f.user)) == 0 {
		e.issueCode(w, f)
		return
	}
	f.stage = stageConsent
	e.state.putFlow(f, e.now())
	e.page(w, http.StatusOK, "consent", pageData{Title: "Permissions requested", Flow: f.id, Action: f.req.path,
		AppName: f.req.client.DisplayName, Account: f.user, Permissions: e.permissions(f.req)})
}

// missingConsent lists the requested resource scopes the user has not consented to (nor an admin for
// everyone). /.default asks for nothing more than what is consented.
func (e *Emulator) missingConsent(req *authorizeRequest, u *User) []string {
	var missing []string
	for _, rr := range req.resources {
		have := e.consentedScopes(req.client, u, rr.resource)
		for _, s := range rr.scopes {
			if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, s) }) {
				missing = append(missing, s)
			}
		}
	}
	return missing
}

// permissions describes what the consent page asks for.
func (e *Emulator) permissions(req *authorizeRequest) []string {
	var out []string
	for _, s := range req.scopes {
		switch strings.ToLower(s) {
		case "openid":
			out = append(out, "Sign you in")
		case "profile":
			out = append(out, "View your basic profile")
		case "email":
			out = append(out, "View your email address")
		case "offline_access":
			out = append(out, "Maintain access to data you have given it access to")
		}
	}
	for _, rr := range req.resources {
		for _, s := range rr.scopes {
			out = append(out, rr.resource.DisplayName+": "+s)
		}
		if rr.defaultScope && len(rr.scopes) == 0 {
			out = append(out, rr.resource.DisplayName+": the permissions already granted")
		}
	}
	return out
}

// issueCode answers the client with an authorization code for the user signed in by the flow's session.
func (e *Emulator) issueCode(w http.ResponseWriter, f *authorizeFlow) {
	req := f.req
	tenantID := f.user.TenantID
	if req.kind == tenantSpecific {
		tenantID = req.tenant.ID
	}
	ac := &authCode{
		clientID: req.client.ClientID, redirectURI: req.redirectURI, userOID: f.user.ObjectID, tenantID: tenantID,
		scopes: req.scopes, nonce: req.nonce, codeChallenge: req.codeChallenge, claims: req.claims,
		sessionID: publicSessionID(f.session), authTime: f.session.authTime, expires: e.now().Add(codeLifetime),
	}
	if req.codeChallenge != "" {
		ac.method = req.method
	}
	params := url.Values{"code": {e.state.putCode(ac)}, "session_state": {ac.sessionID}}
	if req.state != "" {
		params.Set("state", req.state)
	}
	e.respond(w, req, params)
}

// publicSessionID is the session's id as tokens (sid) and responses (session_state) show it: derived from
// the cookie's secret value, never equal to it.
func publicSessionID(s *browserSession) string {
	sum := sha256.Sum256([]byte("sid|" + s.id))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// respondError sends an OAuth error to the client's redirect URI.
func (e *Emulator) respondError(w http.ResponseWriter, req *authorizeRequest, oe *oauthError) {
	e.respond(w, req, e.errorParams(oe, req))
}

// errorParams are an OAuth error's parameters as Entra sends them to the redirect URI.
func (e *Emulator) errorParams(oe *oauthError, req *authorizeRequest) url.Values {
	body := oe.body(e.now(), e.url)
	v := url.Values{
		"error":             {oe.Code},
		"error_description": {body["error_description"].(string)},
		"error_uri":         {body["error_uri"].(string)},
	}
	if req.state != "" {
		v.Set("state", req.state)
	}
	return v
}

// respond sends the parameters to the client's redirect URI as the response mode asks: in the query or
// the fragment of a redirect, or in an HTML form that posts itself (form_post).
func (e *Emulator) respond(w http.ResponseWriter, req *authorizeRequest, params url.Values) {
	if oe := params.Get("error"); oe != "" {
		e.logf("authorize: %s to the client", oe)
	}
	switch req.mode {
	case "form_post":
		var fields []formField
		for _, k := range slices.Sorted(maps.Keys(params)) {
			fields = append(fields, formField{Name: k, Value: params.Get(k)})
		}
		e.page(w, http.StatusOK, "form_post", pageData{Title: "Working...", RedirectURI: req.redirectURI, Fields: fields})
	case "fragment":
		u, _ := url.Parse(req.redirectURI)
		u.Fragment, u.RawFragment = "", ""
		redirect(w, u.String()+"#"+params.Encode())
	default:
		u, _ := url.Parse(req.redirectURI)
		q := u.Query()
		for k, vs := range params {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		redirect(w, u.String())
	}
}

func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(http.StatusFound)
}

// errorPage shows an error on the emulator's own page, as Entra does when it cannot trust the redirect URI.
func (e *Emulator) errorPage(w http.ResponseWriter, oe *oauthError) {
	e.logf("authorize: AADSTS%d shown on the error page", oe.AADSTS)
	e.page(w, http.StatusBadRequest, "error", pageData{Title: "Sign in", Error: fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Message)})
}
