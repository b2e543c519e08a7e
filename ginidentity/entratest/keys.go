package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// signingKey is one token-signing key with its self-signed certificate, as Entra publishes them.
type signingKey struct {
	kid     string          // base64url SHA-1 thumbprint of the certificate, as Entra's kid and x5t
	private *rsa.PrivateKey // with its CRT values precomputed: signing with it costs the signature alone
	certDER []byte
}

func newSigningKey(priv *rsa.PrivateKey) (*signingKey, error) {
	if priv == nil {
		var err error
		if priv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("invalid signing key: %w", err)
	}
	priv.Precompute()
	// The certificate depends on the key alone (PKCS#1 v1.5 signatures are deterministic), so the kid, its
	// thumbprint, is the same in every process that loads the key: the local emulator's persisted key keeps
	// its kid across restarts.
	pubSum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&priv.PublicKey))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(pubSum[:16]),
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	return &signingKey{kid: kid, private: priv, certDER: der}, nil
}

// publicJWK is the key as the JWKS document shows it: kty, use, kid, x5t, n, e, x5c, issuer, and no alg.
func (k *signingKey) publicJWK(issuer string) map[string]any {
	pub := k.private.PublicKey
	return map[string]any{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    k.kid,
		"x5t":    k.kid,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c":    []string{base64.StdEncoding.EncodeToString(k.certDER)},
		"issuer": issuer,
	}
}

// sign signs the payload as a JWS compact token with Entra's header: typ JWT, alg RS256, kid and x5t.
func (k *signingKey) sign(payload []byte) (string, error) {
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, "JWT")
	_ = hdr.Set(jws.KeyIDKey, k.kid)
	_ = hdr.Set("x5t", k.kid)
	// The *rsa.PrivateKey itself, not a jwk.Key: jwx would hand crypto/rsa a copy without the precomputed
	// CRT values, and recomputing and checking them cost a third of every signature.
	out, err := jws.Sign(payload, jws.WithKey(jwa.RS256, k.private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// keyRing holds the current signing key and the retired ones still published, as Entra keeps an old key in
// its JWKS for a while after rotating.
type keyRing struct {
	mu      sync.RWMutex
	current *signingKey
	retired []*signingKey // newest first
}

func (r *keyRing) active() *signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

func (r *keyRing) published() []*signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*signingKey{r.current}, r.retired...)
}

// find returns the published key with the kid.
func (r *keyRing) find(kid string) *signingKey {
	for _, k := range r.published() {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// rotate makes a new current key, keeps the previous one published, and drops keys older than keep.
func (r *keyRing) rotate(keep int) (*signingKey, error) {
	k, err := newSigningKey(nil)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retired = append([]*signingKey{r.current}, r.retired...)
	if len(r.retired) > keep {
		r.retired = r.retired[:keep]
	}
	r.current = k
	return k, nil
}

// authority is the emulator's certificate authority and the TLS certificate it issues for loopback.
type authority struct {
	caCert  *x509.Certificate
	caKey   *rsa.PrivateKey
	caPEM   []byte
	pool    *x509.CertPool
	tlsCert tls.Certificate
}

// newCA creates the key and self-signed certificate (DER) of a certificate authority for the emulator.
func newCA() (*rsa.PrivateKey, []byte, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "Entra emulator local CA", Organization: []string{"gin-identity kit (development only)"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return caKey, caDER, nil
}

func newAuthority(caKey *rsa.PrivateKey, caDER []byte) (*authority, error) {
	var err error
	if caKey == nil || caDER == nil {
		if caKey, caDER, err = newCA(); err != nil {
			return nil, err
		}
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("entratest: parse CA certificate: %w", err)
	}
	a := &authority{caCert: caCert, caKey: caKey, pool: x509.NewCertPool()}
	a.pool.AddCert(caCert)
	a.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	a.tlsCert = tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	return a, nil
}

// thumbprintS256 is the x5t#S256 of a certificate: padded standard base64 of the SHA-256 of its DER, as MSAL
// sends it; thumbprintS1 is the same for x5t with SHA-1. Both encodings are accepted when matching.
func thumbprints(der []byte) []string {
	s256 := sha256.Sum256(der)
	s1 := sha1.Sum(der)
	return []string{
		base64.StdEncoding.EncodeToString(s256[:]), base64.RawURLEncoding.EncodeToString(s256[:]),
		base64.StdEncoding.EncodeToString(s1[:]), base64.RawURLEncoding.EncodeToString(s1[:]),
	}
}
