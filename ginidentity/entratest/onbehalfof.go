package entratest

import (
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// assertionClockSkew is how far an assertion's nbf may lie in the future, as Entra tolerates.
const assertionClockSkew = 5 * time.Minute

// onBehalfOf serves the on-behalf-of grant (jwt-bearer with requested_token_use=on_behalf_of): the middle-tier
// client exchanges a user's access token issued for it for a token to a downstream resource, within the
// scopes consented for the middle tier.
func (e *Emulator) onBehalfOf(tr *tokenRequest) (*tokenResponse, *oauthError) {
	assertion := tr.form.Get("assertion")
	if assertion == "" {
		return nil, missingParameter("assertion")
	}
	tok, oe := e.verifyUserAssertion(assertion, tr.client)
	if oe != nil {
		return nil, oe
	}
	oid, tid := stringClaim(tok, "oid"), stringClaim(tok, "tid")
	u := e.dir.user(oid)
	if u == nil || !strings.EqualFold(u.TenantID, tid) || (tr.tenant != nil && !strings.EqualFold(tr.tenant.ID, tid)) {
		return nil, unknownUser(oid, tr.tenantName())
	}
	return e.userToken(tr, u, u.TenantID, tr.form.Get("scope"), userSession{claims: tr.form.Get("claims")})
}

// verifyUserAssertion checks the assertion of an on-behalf-of request as Entra does: signed by one of the
// emulator's published keys, issued by the emulator, within its lifetime, issued for the calling client
// (by client id or App ID URI), and a delegated user token.
func (e *Emulator) verifyUserAssertion(assertion string, client *App) (jwt.Token, *oauthError) {
	if _, err := jwt.ParseString(assertion, jwt.WithVerify(false), jwt.WithValidate(false)); err != nil {
		return nil, newError("invalid_request", 50027, "JWT token is invalid or malformed.")
	}
	tok, err := e.parseSigned(assertion)
	if err != nil {
		return nil, newError("invalid_grant", 50013, "Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value, or the key was not found.]")
	}
	now := e.now()
	if tok.Expiration().IsZero() || !now.Before(tok.Expiration()) || now.Add(assertionClockSkew).Before(tok.NotBefore()) {
		return nil, newError("invalid_grant", 500133, "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), tok.Expiration().UTC().Format(time.RFC3339))
	}
	tid := stringClaim(tok, "tid")
	if iss := tok.Issuer(); tid == "" || (iss != e.issuerV2(tid) && iss != issuerV1(tid)) {
		return nil, newError("invalid_grant", 50013, "Assertion is invalid: its issuer '%s' is not this authority's issuer for tenant '%s'.", tok.Issuer(), tid)
	}
	if !slices.ContainsFunc(tok.Audience(), func(aud string) bool { return isAppIdentifier(client, aud) }) {
		return nil, newError("invalid_grant", 500131, "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '%s' and the expected audience is '%s' or one of the Application Uris of this application with App ID '%s'(%s). The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.",
			strings.Join(tok.Audience(), " "), client.ClientID, client.ClientID, client.DisplayName)
	}
	if stringClaim(tok, "idtyp") == "app" || stringClaim(tok, "scp") == "" {
		return nil, newError("invalid_grant", 50013, "Assertion is invalid: an on-behalf-of assertion must be a delegated user token, not an app-only token.")
	}
	return tok, nil
}

// isAppIdentifier reports whether id names the app: its client id or one of its identifier URIs.
func isAppIdentifier(a *App, id string) bool {
	if strings.EqualFold(a.ClientID, id) {
		return true
	}
	return slices.ContainsFunc(a.IdentifierURIs, func(u string) bool {
		return strings.EqualFold(strings.TrimSuffix(u, "/"), strings.TrimSuffix(id, "/"))
	})
}
