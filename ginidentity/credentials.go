package ginidentity

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"software.sslmate.com/src/go-pkcs12"
)

// clientCredential is one loaded entry of the app's credentials.
type clientCredential struct {
	name   string           // where it is configured: AzureAd:ClientCredentials:1
	source CredentialSource // what it is
	cred   confidential.Credential
}

// federatedTokenFileEnv names the file a workload identity's signed assertion is projected to.
const federatedTokenFileEnv = "AZURE_FEDERATED_TOKEN_FILE"

// loadCredentials turns the configured client credentials into MSAL credentials, in the order of
// AzureAdOptions.Credentials. An entry that cannot be loaded is skipped with a warning; when none can be, the
// error names every entry and its fix.
func loadCredentials(a AzureAdOptions, now time.Time, logger *slog.Logger) ([]clientCredential, error) {
	type entry struct {
		name string
		cd   CredentialDescription
	}
	var entries []entry
	for _, list := range []struct {
		field string
		creds []CredentialDescription
	}{{"AzureAd:ClientCredentials", a.ClientCredentials}, {"AzureAd:ClientCertificates", a.ClientCertificates}} {
		for i, cd := range list.creds {
			if !cd.Skip {
				entries = append(entries, entry{fmt.Sprintf("%s:%d", list.field, i), cd})
			}
		}
	}
	if a.ClientSecret != "" {
		entries = append(entries, entry{"AzureAd:ClientSecret", CredentialDescription{SourceType: SourceClientSecret, ClientSecret: a.ClientSecret}})
	}
	if len(entries) == 0 {
		return nil, &ConfigError{Field: "AzureAd:ClientCredentials", Problem: "has no credential, and acquiring tokens needs one",
			Fix: `add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType and AzureAd__ClientCredentials__0__ClientSecret`}
	}
	var loaded []clientCredential
	var errs []error
	for _, e := range entries {
		src, _ := canonicalSource(e.cd.SourceType)
		cred, err := loadCredential(e.name, src, e.cd, now)
		if err != nil {
			logger.Warn("ginidentity: skipping a client credential that cannot be loaded", "credential", e.name, "source", string(src), "error", err)
			errs = append(errs, err)
			continue
		}
		loaded = append(loaded, clientCredential{name: e.name, source: src, cred: cred})
	}
	if len(loaded) == 0 {
		return nil, fmt.Errorf("ginidentity: no client credential could be loaded: %w", errors.Join(errs...))
	}
	return loaded, nil
}

// loadCredential loads one credential. Its errors are *ConfigError naming the entry, never its secret.
func loadCredential(name string, src CredentialSource, cd CredentialDescription, now time.Time) (confidential.Credential, error) {
	fail := func(field, problem, fix string, err error) (confidential.Credential, error) {
		f := name
		if field != "" {
			f += ":" + field
		}
		return confidential.Credential{}, &ConfigError{Field: f, Problem: problem, Fix: fix, Err: err}
	}
	switch src {
	case SourceClientSecret:
		if cd.ClientSecret == "" {
			return fail("ClientSecret", "is empty", "set it to the secret's value (not its ID) from the app registration's Certificates & secrets page", nil)
		}
		return confidential.NewCredFromSecret(cd.ClientSecret)
	case SourcePath:
		if cd.CertificateDiskPath == "" {
			return fail("CertificateDiskPath", "is required when SourceType is Path", "set it to a PEM or PFX file holding the certificate and its private key", nil)
		}
		data, err := os.ReadFile(cd.CertificateDiskPath)
		if err != nil {
			return fail("CertificateDiskPath", fmt.Sprintf("cannot be read (%q)", cd.CertificateDiskPath), "check the path and the file's permissions", err)
		}
		cred, problem, fix, err := certificateCredential(data, cd.CertificatePassword, now)
		if err != nil {
			return fail("CertificateDiskPath", problem, fix, err)
		}
		return cred, nil
	case SourceBase64Encoded, SourceCertificate:
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cd.Base64EncodedValue), ""))
		if err != nil || len(data) == 0 {
			return fail("Base64EncodedValue", "is not a base64-encoded certificate", "encode the PFX or PEM file with base64, for example `base64 -w0 cert.pfx`", err)
		}
		cred, problem, fix, err := certificateCredential(data, cd.CertificatePassword, now)
		if err != nil {
			return fail("Base64EncodedValue", problem, fix, err)
		}
		return cred, nil
	case SourceSignedAssertionFilePath:
		path, field := cd.SignedAssertionFileDiskPath, "SignedAssertionFileDiskPath"
		if path == "" {
			path, field = os.Getenv(federatedTokenFileEnv), ""
		}
		if path == "" {
			return fail("SignedAssertionFileDiskPath", "is empty and "+federatedTokenFileEnv+" is not set",
				"set it to the file where the platform writes the signed assertion (workload identity sets "+federatedTokenFileEnv+")", nil)
		}
		if _, err := readAssertionFile(path); err != nil {
			if field == "" {
				field = "SignedAssertionFileDiskPath (" + federatedTokenFileEnv + ")"
			}
			return fail(field, fmt.Sprintf("cannot be used (%q)", path), "check that the workload identity webhook projects the token to this file", err)
		}
		return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
			// Read on every assertion: the platform rotates the file.
			return readAssertionFile(path)
		}), nil
	case "":
		return fail("SourceType", "is required", "set it to ClientSecret, Path, Base64Encoded or SignedAssertionFilePath", nil)
	default:
		return fail("SourceType", fmt.Sprintf("%s is not supported by ginidentity's token acquisition", src),
			"use ClientSecret, Path, Base64Encoded, Certificate or SignedAssertionFilePath, or load the certificate yourself and use Base64Encoded", nil)
	}
}

// readAssertionFile reads a signed assertion (a JWT) from its file.
func readAssertionFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ginidentity: read the signed assertion file: %w", err)
	}
	assertion := strings.TrimSpace(string(data))
	if assertion == "" {
		return "", errors.New("ginidentity: the signed assertion file is empty")
	}
	return assertion, nil
}

// certificateCredential builds a credential from a PEM (certificate and unencrypted private key) or PFX file.
// On failure it returns the problem and its fix.
func certificateCredential(data []byte, password string, now time.Time) (cred confidential.Credential, problem, fix string, err error) {
	var certs []*x509.Certificate
	var key any
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, key, err = confidential.CertFromPEM(data, "")
		if err != nil {
			return cred, "is not a usable PEM certificate", "put the certificate and its unencrypted private key (PKCS#8 or PKCS#1) in one PEM file", err
		}
	} else {
		var leaf *x509.Certificate
		var chain []*x509.Certificate
		key, leaf, chain, err = pkcs12.DecodeChain(data, password)
		if err != nil {
			if errors.Is(err, pkcs12.ErrIncorrectPassword) {
				return cred, "is a PFX file whose password is not CertificatePassword", "set CertificatePassword to the PFX file's password", err
			}
			return cred, "is neither a PEM file nor a PFX (PKCS#12) file holding a certificate and its private key", "export the certificate with its private key as PFX or PEM", err
		}
		certs = append([]*x509.Certificate{leaf}, chain...)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return cred, fmt.Sprintf("holds a %T key", key), "use a certificate with an RSA key: Microsoft Entra ID client assertions are signed with RSA", errors.New("not an RSA key")
	}
	cred, err = confidential.NewCredFromCert(certs, key)
	if err != nil {
		return cred, "holds a private key that matches none of its certificates", "export the certificate together with its own private key", err
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rsaKey.PublicKey) {
			if now.After(c.NotAfter) {
				return cred, fmt.Sprintf("holds a certificate that expired on %s", c.NotAfter.Format(time.DateOnly)),
					"create a new certificate, upload it to the app registration and point the configuration at it", errors.New("certificate expired")
			}
			break
		}
	}
	return cred, "", "", nil
}

// sendX5C reports whether AzureAd:SendX5C is true: certificate assertions then carry the certificate chain
// (subject name and issuer authentication).
func sendX5C(a AzureAdOptions) bool {
	for k, v := range a.Extra {
		if strings.EqualFold(k, "SendX5C") {
			var b bool
			if json.Unmarshal(v, &b) == nil {
				return b
			}
			var s string
			return json.Unmarshal(v, &s) == nil && strings.EqualFold(s, "true")
		}
	}
	return false
}
