package entratest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// graphClockSkew is the clock skew Graph tolerates on a token's lifetime.
const graphClockSkew = 5 * time.Minute

// Permissions that satisfy each Graph operation, delegated (scp) and application (roles), as Graph's
// permission reference lists them for the operations the emulator serves.
var (
	readMeScopes    = []string{"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}
	readUsersScopes = []string{"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}
	readUsersRoles  = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	readMailScopes  = []string{"Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic"}
	readMailRoles   = []string{"Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic.All"}
)

// userProperties are the user properties the emulator's Graph returns, in Graph's default set.
var userProperties = []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

// graphError is an error as Microsoft Graph writes it.
type graphError struct {
	status  int
	code    string
	message string
	// challenge is the WWW-Authenticate header's parameters after "Bearer " (401 only).
	challenge string
}

// graphCaller is the principal of a validated Graph token.
type graphCaller struct {
	tenantID  string
	oid       string
	delegated bool
	scopes    []string
	roles     []string
}

func (c *graphCaller) hasScope(allowed []string) bool {
	return c.delegated && slices.ContainsFunc(c.scopes, func(s string) bool { return containsFold(allowed, s) })
}

func (c *graphCaller) hasRole(allowed []string) bool {
	return !c.delegated && slices.ContainsFunc(c.roles, func(s string) bool { return containsFold(allowed, s) })
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// handleGraph serves the emulator's Microsoft Graph v1.0: /me, /me/messages, /users, /users/{id or UPN} and
// /users/{id}/messages. It validates the bearer token as Graph does (signature against the emulator's
// published keys, lifetime, audience, issuer), answers a pending claims challenge for the user, and checks
// the delegated scopes or app roles each operation needs.
func (e *Emulator) handleGraph(w http.ResponseWriter, r *http.Request) {
	requestID := newGUID()
	clientRequestID := r.Header.Get("client-request-id")
	if clientRequestID == "" {
		clientRequestID = requestID
	}
	w.Header().Set("request-id", requestID)
	w.Header().Set("client-request-id", clientRequestID)
	fail := func(ge *graphError) { e.writeGraphError(w, ge, requestID, clientRequestID) }

	caller, ge := e.graphAuthenticate(r)
	if ge != nil {
		fail(ge)
		return
	}
	if claims, ok := e.state.claimsChallenge(caller.oid); ok && caller.delegated {
		fail(&graphError{status: http.StatusUnauthorized, code: "InvalidAuthenticationToken",
			message: "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
			challenge: fmt.Sprintf(`realm="", authorization_uri="%s/common/oauth2/authorize", error="insufficient_claims", claims="%s"`,
				e.url, base64.StdEncoding.EncodeToString([]byte(claims)))})
		return
	}
	if r.Method != http.MethodGet {
		fail(&graphError{status: http.StatusMethodNotAllowed, code: "Request_BadRequest", message: "Specified HTTP method is not allowed for the request uri."})
		return
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1.0/"), "/"), "/")
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "me"):
		e.graphUser(w, r, caller, "", fail)
	case len(segs) == 2 && strings.EqualFold(segs[0], "me") && strings.EqualFold(segs[1], "messages"):
		e.graphMessages(w, caller, "", fail)
	case len(segs) == 1 && strings.EqualFold(segs[0], "users"):
		e.graphUsers(w, r, caller, fail)
	case len(segs) == 2 && strings.EqualFold(segs[0], "users") && segs[1] != "":
		e.graphUser(w, r, caller, segs[1], fail)
	case len(segs) == 3 && strings.EqualFold(segs[0], "users") && strings.EqualFold(segs[2], "messages"):
		e.graphMessages(w, caller, segs[1], fail)
	default:
		seg := segs[0]
		if len(segs) > 1 && (strings.EqualFold(seg, "me") || strings.EqualFold(seg, "users")) {
			seg = segs[len(segs)-1]
		}
		fail(&graphError{status: http.StatusBadRequest, code: "BadRequest", message: fmt.Sprintf("Resource not found for the segment '%s'.", seg)})
	}
}

// graphAuthenticate validates the request's bearer token as Graph does.
func (e *Emulator) graphAuthenticate(r *http.Request) (*graphCaller, *graphError) {
	unauthorized := func(msg string) *graphError {
		return &graphError{status: http.StatusUnauthorized, code: "InvalidAuthenticationToken", message: msg,
			challenge: fmt.Sprintf(`realm="", authorization_uri="%s/common/oauth2/authorize", client_id="%s"`, e.url, GraphAppID)}
	}
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, unauthorized("Access token is empty.")
	}
	if strings.Count(raw, ".") != 2 {
		return nil, unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
	}
	tok, err := e.parseSigned(raw)
	if err != nil {
		return nil, unauthorized("Access token validation failure. Invalid signature.")
	}
	if tok.Expiration().IsZero() {
		return nil, unauthorized("Access token validation failure. The token has no expiration time.")
	}
	if err := jwt.Validate(tok, jwt.WithClock(jwt.ClockFunc(e.now)), jwt.WithAcceptableSkew(graphClockSkew)); err != nil {
		return nil, unauthorized("Lifetime validation failed, the token is expired.")
	}
	if !slices.ContainsFunc(tok.Audience(), func(a string) bool {
		return strings.EqualFold(strings.TrimSuffix(a, "/"), GraphResource) || strings.EqualFold(a, GraphAppID)
	}) {
		return nil, unauthorized("Access token validation failure. Invalid audience.")
	}
	tid := stringClaim(tok, "tid")
	t := e.dir.tenant(tid)
	if t == nil || !strings.EqualFold(t.ID, tid) || (tok.Issuer() != issuerV1(t.ID) && tok.Issuer() != e.issuerV2(t.ID)) {
		return nil, unauthorized("Access token validation failure. Invalid issuer.")
	}
	c := &graphCaller{tenantID: t.ID, oid: stringClaim(tok, "oid")}
	if scp := stringClaim(tok, "scp"); scp != "" {
		c.delegated, c.scopes = true, strings.Fields(scp)
	}
	if v, ok := tok.Get("roles"); ok {
		if list, ok := v.([]any); ok {
			for _, r := range list {
				if s, ok := r.(string); ok {
					c.roles = append(c.roles, s)
				}
			}
		}
	}
	return c, nil
}

func stringClaim(tok jwt.Token, name string) string {
	v, _ := tok.Get(name)
	s, _ := v.(string)
	return s
}

// parseSigned parses a token signed (RS256) by one of the keys the emulator publishes. It checks the
// signature only: lifetime and claims are the caller's to check.
func (e *Emulator) parseSigned(raw string) (jwt.Token, error) {
	return jwt.ParseString(raw, jwt.WithValidate(false), jwt.WithKeyProvider(jws.KeyProviderFunc(
		func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
			k := e.keys.find(sig.ProtectedHeaders().KeyID())
			if k == nil {
				return errors.New("entratest: token signed by a key the emulator does not publish")
			}
			sink.Key(jwa.RS256, &k.private.PublicKey)
			return nil
		})))
}

// graphUser serves /me (id "") and /users/{id or UPN}.
func (e *Emulator) graphUser(w http.ResponseWriter, r *http.Request, c *graphCaller, id string, fail func(*graphError)) {
	u, isCaller, ge := e.subject(c, id)
	if ge != nil {
		fail(ge)
		return
	}
	if !(c.hasScope(readUsersScopes) || c.hasRole(readUsersRoles) || (isCaller && c.hasScope(readMeScopes))) {
		fail(insufficientPrivileges())
		return
	}
	if u == nil {
		fail(notFound(cmp.Or(id, c.oid)))
		return
	}
	props, contextSuffix, ge := selectProperties(r, userProperties, "microsoft.graph.user")
	if ge != nil {
		fail(ge)
		return
	}
	body := graphUserJSON(u, props)
	body["@odata.context"] = e.GraphURL() + "/$metadata#users" + contextSuffix + "/$entity"
	writeGraphJSON(w, body)
}

// graphUsers serves /users: the users of the token's tenant.
func (e *Emulator) graphUsers(w http.ResponseWriter, r *http.Request, c *graphCaller, fail func(*graphError)) {
	if !c.hasScope(readUsersScopes) && !c.hasRole(readUsersRoles) {
		fail(insufficientPrivileges())
		return
	}
	props, contextSuffix, ge := selectProperties(r, userProperties, "microsoft.graph.user")
	if ge != nil {
		fail(ge)
		return
	}
	value := []map[string]any{}
	for i := range e.dir.Users {
		if u := &e.dir.Users[i]; strings.EqualFold(u.TenantID, c.tenantID) {
			value = append(value, graphUserJSON(u, props))
		}
	}
	writeGraphJSON(w, map[string]any{"@odata.context": e.GraphURL() + "/$metadata#users" + contextSuffix, "value": value})
}

// graphMessages serves /me/messages (id "") and /users/{id}/messages: a few fixed messages per user.
func (e *Emulator) graphMessages(w http.ResponseWriter, c *graphCaller, id string, fail func(*graphError)) {
	u, isCaller, ge := e.subject(c, id)
	if ge != nil {
		fail(ge)
		return
	}
	if !(isCaller && c.hasScope(readMailScopes)) && !c.hasRole(readMailRoles) {
		fail(&graphError{status: http.StatusForbidden, code: "ErrorAccessDenied", message: "Access is denied. Check credentials and try again."})
		return
	}
	if u == nil {
		fail(notFound(cmp.Or(id, c.oid)))
		return
	}
	writeGraphJSON(w, map[string]any{
		"@odata.context": e.GraphURL() + "/$metadata#users('" + u.ObjectID + "')/messages",
		"value":          e.messagesOf(u),
	})
}

// subject is the user a request is about: the caller for /me (id ""), which takes a delegated token, or
// the user of the caller's tenant with the object id or user principal name (nil when there is none).
// isCaller says whether that user is the caller.
func (e *Emulator) subject(c *graphCaller, id string) (u *User, isCaller bool, ge *graphError) {
	if id == "" {
		if !c.delegated {
			return nil, false, &graphError{status: http.StatusBadRequest, code: "BadRequest", message: "/me request is only valid with delegated authentication flow."}
		}
		id = c.oid
	}
	if u = e.dir.user(id); u == nil || !strings.EqualFold(u.TenantID, c.tenantID) {
		return nil, false, nil
	}
	return u, c.delegated && strings.EqualFold(u.ObjectID, c.oid), nil
}

func insufficientPrivileges() *graphError {
	return &graphError{status: http.StatusForbidden, code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation."}
}

func notFound(id string) *graphError {
	return &graphError{status: http.StatusNotFound, code: "Request_ResourceNotFound",
		message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

// selectProperties applies $select: the properties to return (all known ones without it) and the
// @odata.context suffix naming them.
func selectProperties(r *http.Request, known []string, typeName string) ([]string, string, *graphError) {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return known, "", nil
	}
	var props []string
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, p) })
		if i < 0 {
			return nil, "", &graphError{status: http.StatusBadRequest, code: "BadRequest",
				message: fmt.Sprintf("Could not find a property named '%s' on type '%s'.", p, typeName)}
		}
		if !slices.Contains(props, known[i]) {
			props = append(props, known[i])
		}
	}
	return props, "(" + strings.Join(props, ",") + ")", nil
}

// graphUserJSON is the user as Graph returns it, limited to props.
func graphUserJSON(u *User, props []string) map[string]any {
	all := map[string]any{
		"id":                u.ObjectID,
		"businessPhones":    []string{},
		"displayName":       u.DisplayName,
		"givenName":         nullable(u.GivenName),
		"surname":           nullable(u.Surname),
		"jobTitle":          nullable(u.JobTitle),
		"mail":              nullable(u.Mail),
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
		"userPrincipalName": u.UserPrincipalName,
	}
	out := make(map[string]any, len(props)+1)
	for _, p := range props {
		out[p] = all[p]
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// messagesOf returns the user's fixed mailbox: a welcome message and one from each colleague of the tenant.
func (e *Emulator) messagesOf(u *User) []map[string]any {
	type msg struct {
		from    *User
		subject string
		body    string
	}
	msgs := []msg{{nil, "Welcome to your mailbox", "This mailbox belongs to the Microsoft Entra ID emulator. Its messages never change."}}
	for i := range e.dir.Users {
		if o := &e.dir.Users[i]; o != u && strings.EqualFold(o.TenantID, u.TenantID) {
			msgs = append(msgs, msg{o, "Hello from " + o.DisplayName, "Hi " + u.GivenName + ", this is " + o.DisplayName + "."})
		}
	}
	base := time.Date(2025, time.January, 6, 9, 0, 0, 0, time.UTC)
	out := make([]map[string]any, 0, len(msgs))
	for i, m := range msgs {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%d", u.ObjectID, i)))
		name, addr := "Microsoft Entra ID emulator", "no-reply@"+domainOf(u.UserPrincipalName)
		if m.from != nil {
			name, addr = m.from.DisplayName, m.from.UserPrincipalName
		}
		when := base.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
		out = append(out, map[string]any{
			"@odata.etag":      `W/"` + base64.StdEncoding.EncodeToString(sum[:9]) + `"`,
			"id":               "AAMkAG" + base64.RawURLEncoding.EncodeToString(sum[:]),
			"createdDateTime":  when,
			"receivedDateTime": when,
			"sentDateTime":     when,
			"subject":          m.subject,
			"bodyPreview":      m.body,
			"importance":       "normal",
			"isRead":           i > 0,
			"hasAttachments":   false,
			"body":             map[string]any{"contentType": "text", "content": m.body},
			"from":             map[string]any{"emailAddress": map[string]any{"name": name, "address": addr}},
			"sender":           map[string]any{"emailAddress": map[string]any{"name": name, "address": addr}},
			"toRecipients": []map[string]any{{"emailAddress": map[string]any{
				"name": u.DisplayName, "address": u.UserPrincipalName}}},
		})
	}
	return out
}

func writeGraphJSON(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(body)
}

// writeGraphError writes a Graph error: {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}}, with WWW-Authenticate on a 401.
func (e *Emulator) writeGraphError(w http.ResponseWriter, ge *graphError, requestID, clientRequestID string) {
	e.logf("graph: %d %s", ge.status, ge.code)
	if ge.challenge != "" {
		w.Header().Set("WWW-Authenticate", "Bearer "+ge.challenge)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ge.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    ge.code,
		"message": ge.message,
		"innerError": map[string]any{
			"date":              e.now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        requestID,
			"client-request-id": clientRequestID,
		},
	}})
}
