package entratest

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Emulator is a running Microsoft Entra ID emulator. Create one with Start in a test or New elsewhere.
type Emulator struct {
	dir    *Directory
	keys   keyRing
	ca     *authority
	now    func() time.Time
	logger *log.Logger
	// keepRetiredKeys is how many previous signing keys stay published after a rotation.
	keepRetiredKeys int

	addr string
	ln   net.Listener
	srv  *http.Server
	url  string

	state  *state
	faults *faults

	// identityHeader is the secret the managed identity endpoint expects in X-IDENTITY-HEADER.
	identityHeader string
	// appTokens reuses a client-credentials token within the second it was signed (see token.go).
	appTokens appTokenCache

	closeOnce sync.Once
}

// Option configures an Emulator.
type Option func(*config) error

type config struct {
	addr       string
	dir        *Directory
	now        func() time.Time
	logger     *log.Logger
	caKey      *rsa.PrivateKey
	caDER      []byte
	signingKey *rsa.PrivateKey
	// identityHeader is the managed identity endpoint's secret ("" = a random one).
	identityHeader string
}

// WithAddr sets the listening address (default 127.0.0.1:0, a free loopback port).
func WithAddr(addr string) Option {
	return func(c *config) error { c.addr = addr; return nil }
}

// WithDirectory serves another directory than DefaultDirectory.
func WithDirectory(d *Directory) Option {
	return func(c *config) error {
		if d == nil {
			return errors.New("entratest: WithDirectory(nil): pass a directory, or leave the option out for the default one")
		}
		if err := d.validate(); err != nil {
			return fmt.Errorf("entratest: WithDirectory: %w", err)
		}
		c.dir = d
		return nil
	}
}

// WithClock replaces time.Now for every time the emulator stamps or checks.
func WithClock(now func() time.Time) Option {
	return func(c *config) error { c.now = now; return nil }
}

// WithLogger sends the emulator's request log to l (default: discarded).
func WithLogger(l *log.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithCA makes the emulator serve TLS under this certificate authority instead of a new one, so that clients
// trusting it keep trusting the emulator across restarts.
func WithCA(key *rsa.PrivateKey, certDER []byte) Option {
	return func(c *config) error { c.caKey, c.caDER = key, certDER; return nil }
}

// WithSigningKey makes the emulator sign tokens with this key instead of a new one.
func WithSigningKey(key *rsa.PrivateKey) Option {
	return func(c *config) error { c.signingKey = key; return nil }
}

// WithIdentityHeader sets the secret the managed identity endpoint expects in its X-IDENTITY-HEADER request
// header, the value of IDENTITY_HEADER for clients (default: a random one, see IdentityHeader).
func WithIdentityHeader(h string) Option {
	return func(c *config) error {
		if h == "" {
			return errors.New("entratest: WithIdentityHeader(\"\"): pass a non-empty secret, or leave the option out for a random one")
		}
		c.identityHeader = h
		return nil
	}
}

// New creates an emulator and starts serving on its address. Close stops it.
func New(opts ...Option) (*Emulator, error) {
	cfg := config{addr: "127.0.0.1:0", now: time.Now}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.dir == nil {
		cfg.dir = DefaultDirectory()
	}
	if cfg.logger == nil {
		cfg.logger = log.New(io.Discard, "", 0)
	}
	if cfg.identityHeader == "" {
		cfg.identityHeader = randomToken(24)
	}
	ca, err := newAuthority(cfg.caKey, cfg.caDER)
	if err != nil {
		return nil, fmt.Errorf("entratest: certificate authority: %w", err)
	}
	key, err := newSigningKey(cfg.signingKey)
	if err != nil {
		return nil, fmt.Errorf("entratest: signing key: %w", err)
	}
	e := &Emulator{
		dir:             cfg.dir,
		ca:              ca,
		now:             cfg.now,
		logger:          cfg.logger,
		keepRetiredKeys: 1,
		addr:            cfg.addr,
		state:           newState(),
		faults:          newFaults(cfg.now),
		identityHeader:  cfg.identityHeader,
	}
	e.keys.current = key

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("entratest: listen on %s: %w", cfg.addr, err)
	}
	e.ln = ln
	host := ln.Addr().(*net.TCPAddr)
	e.url = fmt.Sprintf("https://%s", net.JoinHostPort(hostForURL(host.IP), fmt.Sprint(host.Port)))
	e.srv = &http.Server{
		Handler:           e.routes(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.tlsCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = e.srv.ServeTLS(ln, "", "") }()
	return e, nil
}

func hostForURL(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

// Start starts an emulator on a free loopback port for the test and stops it when the test ends.
// It fails the test if the emulator cannot start.
func Start(t testing.TB, opts ...Option) *Emulator {
	t.Helper()
	e, err := New(opts...)
	if err != nil {
		t.Fatalf("entratest.Start: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// Close stops the emulator at once, closing its connections (a graceful shutdown would wait a second for
// every HTTP/2 client). It is safe to call more than once.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { _ = e.srv.Close() })
}

// URL is the emulator's base URL, https://127.0.0.1:PORT.
func (e *Emulator) URL() string { return e.url }

// Instance is the value for AzureAd:Instance: the base URL with a trailing slash.
func (e *Emulator) Instance() string { return e.url + "/" }

// Authority is the authority URL for a tenant (an id, a domain, common or organizations), as MSAL takes it.
func (e *Emulator) Authority(tenant string) string { return e.url + "/" + tenant }

// GraphURL is the base URL of the emulator's Microsoft Graph, the counterpart of https://graph.microsoft.com/v1.0.
func (e *Emulator) GraphURL() string { return e.url + "/v1.0" }

// CACertPEM is the emulator's CA certificate in PEM form.
func (e *Emulator) CACertPEM() []byte { return append([]byte(nil), e.ca.caPEM...) }

// CertPool is a pool holding only the emulator's CA certificate.
func (e *Emulator) CertPool() *x509.CertPool { return e.ca.pool.Clone() }

// HTTPClient is a new HTTP client that trusts the emulator's CA (and nothing else) and does not follow
// redirects to other hosts blindly: it follows them as http.Client does by default.
func (e *Emulator) HTTPClient() *http.Client { return trustingClient(e.ca.pool.Clone()) }

// trustingClient is an HTTP client trusting the pool's CAs only, with keep-alive connections for parallel use.
func trustingClient(pool *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 64,
			ForceAttemptHTTP2:   true,
		},
	}
}

// Directory is the directory the emulator serves. Do not modify it while the emulator runs.
func (e *Emulator) Directory() *Directory { return e.dir }

// RotateSigningKeys makes a new signing key current. The previous key stays published in the JWKS for a
// while, as Entra does, so tokens it signed still validate; tokens from then on carry the new kid.
func (e *Emulator) RotateSigningKeys() error {
	_, err := e.keys.rotate(e.keepRetiredKeys)
	return err
}

// issuerV2 is the v2.0 issuer for a tenant id on this emulator.
func (e *Emulator) issuerV2(tenantID string) string { return e.url + "/" + tenantID + "/v2.0" }

// issuerV1 is the v1.0 issuer for a tenant id, as Entra writes it whatever the host.
func issuerV1(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// tenantKind says how a tenant path segment was understood.
type tenantKind int

const (
	tenantSpecific tenantKind = iota
	tenantCommon
	tenantOrganizations
	tenantConsumers
)

// resolveTenant maps the {tenant} path segment to a tenant of the directory, or to a multi-tenant alias.
func (e *Emulator) resolveTenant(seg string) (*Tenant, tenantKind, bool) {
	switch strings.ToLower(seg) {
	case "common":
		return nil, tenantCommon, true
	case "organizations":
		return nil, tenantOrganizations, true
	case "consumers":
		return nil, tenantConsumers, true
	}
	t := e.dir.tenant(seg)
	return t, tenantSpecific, t != nil
}

func (e *Emulator) logf(format string, args ...any) { e.logger.Printf(format, args...) }
