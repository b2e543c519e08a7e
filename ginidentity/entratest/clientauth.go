package entratest

import (
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// clientAssertionType is the only client_assertion_type Entra accepts.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Values of the azpacr (v2.0) and appidacr (v1.0) claims: how the client authenticated.
const (
	acrPublic      = "0"
	acrSecret      = "1"
	acrCertificate = "2"
)

// AddClientCertificate registers a certificate (PEM) with the app, as uploading it to the app registration
// does: from then on the app can authenticate with client assertions signed by the certificate's key.
func (e *Emulator) AddClientCertificate(clientID string, certPEM []byte) error {
	if e.dir.app(clientID) == nil {
		return fmt.Errorf("entratest: AddClientCertificate: no app %q in the directory", clientID)
	}
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return fmt.Errorf("entratest: AddClientCertificate(%s): %w", clientID, err)
	}
	e.state.addClientCert(clientID, cert)
	return nil
}

func parseCertificatePEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block: pass the certificate, not the key")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("the certificate's key is not RSA: Entra accepts RSA certificates for client assertions")
	}
	return cert, nil
}

// certificates returns the certificates of the app: those of the directory and those added at run time.
func (e *Emulator) certificates(a *App) []*x509.Certificate {
	var out []*x509.Certificate
	for _, p := range a.Certificates {
		if c, err := parseCertificatePEM([]byte(p)); err == nil {
			out = append(out, c)
		}
	}
	return append(out, e.state.registeredCerts(a.ClientID)...)
}

// authenticateClient checks the client's credential as Entra does: a secret (client_secret_post or
// client_secret_basic), a certificate assertion (private_key_jwt), or none for a public client. It returns
// the azpacr value of the tokens to issue.
func (e *Emulator) authenticateClient(r *http.Request, form url.Values, client *App, seg string, tenant *Tenant, grantType string) (string, *oauthError) {
	secret := form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok && secret == "" {
		if id, err := url.QueryUnescape(user); err != nil || !strings.EqualFold(id, client.ClientID) {
			return "", invalidClient(7000215, "Invalid client secret provided: the client_id of the Authorization header does not match the request's.")
		}
		secret, _ = url.QueryUnescape(pass)
	}
	assertion := form.Get("client_assertion")
	if client.PublicClient {
		switch {
		case secret != "" || assertion != "":
			return "", invalidClient(700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
		case grantType == grantClientCredentials || grantType == grantJWTBearer:
			// App-only and on-behalf-of tokens are for confidential clients only.
			return "", invalidClient(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		}
		return acrPublic, nil
	}
	switch {
	case secret != "" && assertion != "":
		return "", newError("invalid_request", 90014, "The request contains both a client secret and a client assertion: send one credential.")
	case secret != "":
		for _, s := range client.Secrets {
			if subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
				return acrSecret, nil
			}
		}
		return "", invalidClient(7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", client.ClientID)
	case assertion != "":
		if t := form.Get("client_assertion_type"); t != clientAssertionType {
			return "", newError("invalid_request", 90014, "The required field 'client_assertion_type' is missing from the credential or is not '%s'. Ensure that you have all the necessary parameters for the login request.", clientAssertionType)
		}
		if oe := e.verifyClientAssertion(assertion, client, seg, tenant); oe != nil {
			return "", oe
		}
		return acrCertificate, nil
	case grantType == grantClientCredentials:
		return "", invalidClient(7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	default:
		return "", invalidClient(7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
}

func invalidClient(aadsts int, format string, args ...any) *oauthError {
	oe := newError("invalid_client", aadsts, format, args...)
	oe.Status = http.StatusUnauthorized
	return oe
}

// verifyClientAssertion checks a private_key_jwt client assertion: alg PS256 or RS256, an x5t#S256 or x5t
// header naming a certificate registered with the app, a signature by that certificate's key, iss = sub =
// the client id, aud = the token endpoint, and a current lifetime. Entra does not refuse a replayed jti
// (federated credentials are reused within their lifetime), and neither does the emulator.
func (e *Emulator) verifyClientAssertion(assertion string, client *App, seg string, tenant *Tenant) *oauthError {
	msg, err := jws.ParseString(assertion)
	if err != nil || len(msg.Signatures()) != 1 {
		return invalidClient(50027, "JWT token is invalid or malformed: the client assertion could not be parsed.")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg := hdr.Algorithm()
	if alg != jwa.PS256 && alg != jwa.RS256 {
		return invalidClient(700027, "Client assertion failed signature validation. [Reason - The algorithm '%s' is not supported: use PS256 or RS256.]", alg)
	}
	thumb, s256 := hdr.X509CertThumbprintS256(), true
	if thumb == "" {
		thumb, s256 = hdr.X509CertThumbprint(), false
	}
	cert := e.certificateByThumbprint(client, thumb, s256)
	if cert == nil {
		return invalidClient(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", thumb, client.ClientID)
	}
	now := e.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return invalidClient(700027, "Client assertion failed signature validation. [Reason - The key used is expired or not yet valid., Thumbprint of key used by client: '%s']", thumb)
	}
	payload, err := jws.Verify([]byte(assertion), jws.WithKey(alg, cert.PublicKey))
	if err != nil {
		return invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s']", thumb)
	}
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return invalidClient(50027, "JWT token is invalid or malformed: the client assertion's claims could not be parsed.")
	}
	if !strings.EqualFold(tok.Issuer(), client.ClientID) || !strings.EqualFold(tok.Subject(), client.ClientID) {
		return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter: iss and sub must be '%s'.", client.ClientID)
	}
	if !slices.ContainsFunc(tok.Audience(), func(aud string) bool { return e.isTokenEndpoint(aud, seg, tenant) }) {
		return invalidClient(700023, "Client assertion audience claim does not match Realm issuer: aud must be the token endpoint, %s.", e.url+"/"+seg+"/oauth2/v2.0/token")
	}
	if tok.Expiration().IsZero() || !now.Before(tok.Expiration()) || now.Add(assertionClockSkew).Before(tok.NotBefore()) {
		return invalidClient(700024, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
			now.UTC().Format(time.RFC3339), tok.NotBefore().UTC().Format(time.RFC3339), tok.Expiration().UTC().Format(time.RFC3339))
	}
	return nil
}

// certificateByThumbprint finds the app's certificate with the x5t#S256 (s256) or x5t thumbprint, in the
// padded standard or the unpadded URL base64 encoding.
func (e *Emulator) certificateByThumbprint(client *App, thumb string, s256 bool) *x509.Certificate {
	if thumb == "" {
		return nil
	}
	for _, c := range e.certificates(client) {
		t := thumbprints(c.Raw)
		candidates := t[2:]
		if s256 {
			candidates = t[:2]
		}
		if slices.Contains(candidates, thumb) {
			return c
		}
	}
	return nil
}

// isTokenEndpoint reports whether aud names the token endpoint of the request's tenant, as Entra accepts
// it in a client assertion: by the segment sent, the tenant id or the domain, v2.0 or v1.0, or the issuer.
func (e *Emulator) isTokenEndpoint(aud, seg string, tenant *Tenant) bool {
	names := []string{seg}
	if tenant != nil {
		names = append(names, tenant.ID, tenant.Domain)
	}
	for _, n := range names {
		base := e.url + "/" + n
		for _, candidate := range []string{base + "/oauth2/v2.0/token", base + "/oauth2/token", base + "/v2.0"} {
			if strings.EqualFold(strings.TrimSuffix(aud, "/"), candidate) {
				return true
			}
		}
	}
	return false
}
