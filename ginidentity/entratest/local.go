package entratest

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LocalAddr is the address of the local emulator every sample shares, the default of cmd/entra-emulator.
const LocalAddr = "127.0.0.1:5443"

// StateDirEnv names the environment variable that overrides the local emulator's state directory.
const StateDirEnv = "ENTRA_EMULATOR_STATE_DIR"

// stateFileName is the file, in the state directory, holding the CA, the token-signing key and the managed
// identity header every process of the local emulator shares.
const stateFileName = "emulator-state.pem"

// LocalEmulator is the local emulator as one process sees it: either started by this process, or found
// running at its address (started by another sample or by cmd/entra-emulator) and trusted through the CA
// of the shared state directory.
type LocalEmulator struct {
	url     string
	state   *localState
	pool    *x509.CertPool
	client  *http.Client
	started *Emulator // nil when the emulator runs in another process
}

// URL is the emulator's base URL, https://HOST:PORT.
func (l *LocalEmulator) URL() string { return l.url }

// Instance is the value for AzureAd:Instance: the base URL with a trailing slash.
func (l *LocalEmulator) Instance() string { return l.url + "/" }

// Authority is the authority URL for a tenant (an id, a domain, common or organizations).
func (l *LocalEmulator) Authority(tenant string) string { return l.url + "/" + tenant }

// GraphURL is the base URL of the emulator's Microsoft Graph.
func (l *LocalEmulator) GraphURL() string { return l.url + "/v1.0" }

// HTTPClient is an HTTP client that trusts the emulator's CA, and only it (one per LocalEmulator, so its
// connections are reused).
func (l *LocalEmulator) HTTPClient() *http.Client { return l.client }

// CertPool is a pool holding only the emulator's CA certificate.
func (l *LocalEmulator) CertPool() *x509.CertPool { return l.pool.Clone() }

// CACertPEM is the emulator's CA certificate in PEM form.
func (l *LocalEmulator) CACertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.state.caDER})
}

// ManagedIdentityEndpoint and IdentityHeader are the values of IDENTITY_ENDPOINT and IDENTITY_HEADER for the
// emulator's managed identity endpoint.
func (l *LocalEmulator) ManagedIdentityEndpoint() string { return l.url + "/msi/token" }

// IdentityHeader: see ManagedIdentityEndpoint.
func (l *LocalEmulator) IdentityHeader() string { return l.state.identityHeader }

// Started reports whether this process started the emulator (true) or found it running (false).
func (l *LocalEmulator) Started() bool { return l.started != nil }

// Emulator is the emulator this process started, or nil when it runs in another process.
func (l *LocalEmulator) Emulator() *Emulator { return l.started }

// Close stops the emulator if this process started it. Other processes using it lose it: the next one to
// call Local starts it again, with the same CA and keys.
func (l *LocalEmulator) Close() {
	if l.started != nil {
		l.started.Close()
	}
}

// LocalOption configures Local.
type LocalOption func(*localConfig) error

type localConfig struct {
	addr         string
	stateDir     string
	dir          *Directory
	logger       *log.Logger
	refuseShared bool
}

// WithLocalAddr sets the address to look for the emulator at, and to start it on (default LocalAddr). With
// port 0 nothing is looked for: an emulator starts on a free port.
func WithLocalAddr(addr string) LocalOption {
	return func(c *localConfig) error { c.addr = addr; return nil }
}

// WithStateDir sets the state directory (default: $ENTRA_EMULATOR_STATE_DIR, else
// os.UserCacheDir()/gin-identity/entra-emulator).
func WithStateDir(dir string) LocalOption {
	return func(c *localConfig) error {
		if dir == "" {
			return errors.New("entratest: WithStateDir(\"\"): pass a directory, or leave the option out for the default")
		}
		c.stateDir = dir
		return nil
	}
}

// WithLocalDirectory serves another directory than DefaultDirectory when this process starts the emulator.
// An emulator found running serves whatever directory it was started with.
func WithLocalDirectory(d *Directory) LocalOption {
	return func(c *localConfig) error {
		if d == nil {
			return errors.New("entratest: WithLocalDirectory(nil): pass a directory, or leave the option out for the default one")
		}
		c.dir = d
		return nil
	}
}

// WithLocalLogger sends the request log of an emulator this process starts to l.
func WithLocalLogger(l *log.Logger) LocalOption {
	return func(c *localConfig) error { c.logger = l; return nil }
}

// WithoutSharing makes Local fail when an emulator already runs at the address instead of using it, as
// cmd/entra-emulator does.
func WithoutSharing() LocalOption {
	return func(c *localConfig) error { c.refuseShared = true; return nil }
}

// ErrAlreadyRunning is returned with WithoutSharing when an emulator already answers at the address.
var ErrAlreadyRunning = errors.New("entratest: an emulator is already running at this address")

// Local returns the local emulator every sample shares: the one answering at LocalAddr if there is one (it
// must present a certificate of the CA in the state directory and answer OpenID discovery as the emulator
// does), or else one started in this process on that address. Every process uses the CA, token-signing key
// and managed identity secret of the state directory, created on first use (0700 directory, 0600 file,
// created atomically so that processes starting at once agree), so samples started side by side, in any
// order, trust each other's emulator with no setup.
func Local(ctx context.Context, opts ...LocalOption) (*LocalEmulator, error) {
	cfg := localConfig{addr: LocalAddr}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.stateDir == "" {
		dir, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		cfg.stateDir = dir
	}
	st, err := loadOrCreateState(cfg.stateDir)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(st.caDER)
	if err != nil {
		return nil, fmt.Errorf("entratest: CA certificate in %s: %w", cfg.stateDir, err)
	}
	l := &LocalEmulator{state: st, pool: x509.NewCertPool()}
	l.pool.AddCert(caCert)
	l.client = trustingClient(l.pool)

	_, port, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("entratest: local address %q: %w", cfg.addr, err)
	}
	opts2 := []Option{WithAddr(cfg.addr), WithCA(st.caKey, st.caDER), WithSigningKey(st.signingKey), WithIdentityHeader(st.identityHeader)}
	if cfg.dir != nil {
		opts2 = append(opts2, WithDirectory(cfg.dir))
	}
	if cfg.logger != nil {
		opts2 = append(opts2, WithLogger(cfg.logger))
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		if port != "0" {
			url := "https://" + cfg.addr
			found, err := probeEmulator(ctx, l.client, url, cfg.stateDir)
			if err != nil {
				return nil, err
			}
			if found {
				if cfg.refuseShared {
					return nil, fmt.Errorf("%w: %s (stop it, or pick another address)", ErrAlreadyRunning, url)
				}
				l.url = url
				return l, nil
			}
		}
		e, err := New(opts2...)
		if err == nil {
			l.started, l.url = e, e.URL()
			return l, nil
		}
		// Another process may have started it between the probe and the listen: look again.
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == attempts {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// DefaultStateDir is the local emulator's state directory: $ENTRA_EMULATOR_STATE_DIR, else
// os.UserCacheDir()/gin-identity/entra-emulator.
func DefaultStateDir() (string, error) {
	if d := os.Getenv(StateDirEnv); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("entratest: no user cache directory for the emulator's state (%w): set %s", err, StateDirEnv)
	}
	return filepath.Join(cache, "gin-identity", "entra-emulator"), nil
}

// probeEmulator reports whether the emulator of the state directory answers at url: nothing listening is
// (false, nil); something that is not it is an error naming the fix.
func probeEmulator(ctx context.Context, c *http.Client, url, stateDir string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/common/v2.0/.well-known/openid-configuration", nil)
	if err != nil {
		return false, fmt.Errorf("entratest: local emulator URL %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return false, nil
		}
		var unknownCA x509.UnknownAuthorityError
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &unknownCA) || errors.As(err, &certErr) {
			return false, fmt.Errorf("entratest: %s is not the emulator of state directory %s (its certificate is not signed by that CA): stop it, or choose another address or state directory (%s): %w", url, stateDir, StateDirEnv, err)
		}
		return false, fmt.Errorf("entratest: something at %s does not answer as the emulator: stop it or choose another address: %w", url, err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.Issuer != url+"/{tenantid}/v2.0" {
		return false, fmt.Errorf("entratest: %s answers (status %d) but not as the Entra emulator: stop it or choose another address", url, resp.StatusCode)
	}
	return true, nil
}

// localState is what every process of the local emulator shares.
type localState struct {
	caKey          *rsa.PrivateKey
	caDER          []byte
	signingKey     *rsa.PrivateKey
	identityHeader string
}

// PEM block types and headers of the state file.
const (
	pemCertificate    = "CERTIFICATE"
	pemRSAKey         = "RSA PRIVATE KEY"
	pemIdentityHeader = "IDENTITY HEADER"
	pemPurpose        = "Purpose"
	purposeCA         = "ca"
	purposeSigning    = "token-signing"
)

// loadOrCreateState reads the state file of dir, or creates it. Creation is atomic: the content is written to
// a temporary file and hard-linked into place, which fails if another process got there first; then this
// process reads the winner's file.
func loadOrCreateState(dir string) (*localState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("entratest: create state directory: %w", err)
	}
	path := filepath.Join(dir, stateFileName)
	if st, err := readState(path); !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	data, err := newStateFile()
	if err != nil {
		return nil, fmt.Errorf("entratest: create emulator state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("entratest: write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndSync(tmp, data); err != nil {
		return nil, fmt.Errorf("entratest: write state: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links here: create the file exclusively instead (readers retry a partial one).
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			err = writeAndSync(f, data)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("entratest: write state %s: %w", path, err)
		}
	}
	return readState(path)
}

func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readState reads and parses the state file, refusing one other users can read. A file another process
// is still writing (only without hard links) is retried for a moment.
func readState(path string) (*localState, error) {
	var lastErr error
	for i := 0; i < 20; i++ {
		info, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if info.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("entratest: state file %s holds private keys but is readable by others (mode %o): run chmod 600 on it", path, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("entratest: read state: %w", err)
		}
		st, err := parseState(data)
		if err == nil {
			return st, nil
		}
		lastErr = err
		if time.Since(info.ModTime()) > 5*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("entratest: state file %s is unusable (%w): delete it to create a new CA and signing key", path, lastErr)
}

func newStateFile() ([]byte, error) {
	caKey, caDER, err := newCA()
	if err != nil {
		return nil, err
	}
	sk, err := newSigningKey(nil)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, b := range []*pem.Block{
		{Type: pemCertificate, Bytes: caDER},
		{Type: pemRSAKey, Headers: map[string]string{pemPurpose: purposeCA}, Bytes: x509.MarshalPKCS1PrivateKey(caKey)},
		{Type: pemRSAKey, Headers: map[string]string{pemPurpose: purposeSigning}, Bytes: x509.MarshalPKCS1PrivateKey(sk.private)},
		{Type: pemIdentityHeader, Bytes: []byte(randomToken(24))},
	} {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	return out, nil
}

func parseState(data []byte) (*localState, error) {
	st := &localState{}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		var err error
		switch {
		case b.Type == pemCertificate:
			st.caDER = b.Bytes
		case b.Type == pemRSAKey && b.Headers[pemPurpose] == purposeCA:
			st.caKey, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case b.Type == pemRSAKey && b.Headers[pemPurpose] == purposeSigning:
			st.signingKey, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case b.Type == pemIdentityHeader:
			st.identityHeader = string(b.Bytes)
		}
		if err != nil {
			return nil, err
		}
	}
	if st.caDER == nil || st.caKey == nil || st.signingKey == nil || st.identityHeader == "" {
		return nil, errors.New("missing CA certificate, CA key, signing key or identity header")
	}
	return st, nil
}
