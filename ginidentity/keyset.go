package ginidentity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const (
	// maxMetadataBytes bounds the discovery document and the JWKS read from the network.
	maxMetadataBytes = 1 << 20
	// maxFetchBackoff caps the wait between fetch attempts after failures.
	maxFetchBackoff = 30 * time.Second
	// minRSABits refuses published RSA keys too short to trust.
	minRSABits = 2048
)

// keySet holds the issuer's signing keys and issuer name, read from the tenant's OpenID discovery document
// and its jwks_uri. Lookups read an immutable snapshot without locking. It fetches again:
//   - in the background, once the snapshot is older than refreshInterval, serving the held keys meanwhile;
//   - when a token names a kid it does not hold, at most once per unknownKidInterval, however many tokens
//     ask (a flood of unknown kids costs one fetch);
//   - when it holds no keys (the endpoint was down at start), after a backoff of 1 s doubling to 30 s.
//
// Every fetch is a single flight that requests join; a failed fetch keeps the held keys.
type keySet struct {
	client             *http.Client
	metadataURL        string
	now                func() time.Time
	logger             *slog.Logger
	refreshInterval    time.Duration
	unknownKidInterval time.Duration
	fetchTimeout       time.Duration
	// onChange is called after a fetch that changed the keys or the issuer.
	onChange func()

	current atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    *keyFetch
	lastAttempt time.Time
	failures    int
}

// keySnapshot is the outcome of one successful fetch. It is never modified.
type keySnapshot struct {
	// generation changes whenever the keys or the issuer change.
	generation uint64
	keys       map[string]publishedKey
	// issuer is the v2.0 issuer of the discovery document; for common and organizations it holds the
	// {tenantid} template.
	issuer string
	// issuerTemplate is the issuer with its tenant segment as {tenantid}; issuerTenant is the tenant id the
	// issuer names, "" when the issuer is a template.
	issuerTemplate, issuerTenant string
	fetchedAt                    time.Time
	fingerprint                  string
}

// publishedKey is one verification key of the JWKS.
type publishedKey struct {
	key crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	// alg is the JWK's alg, "" when it has none (Entra's keys never do): then the token's alg is accepted if
	// it is allowed and fits the key's type.
	alg jwa.SignatureAlgorithm
}

// keyFetch is a fetch in flight; done closes when snap or err is set.
type keyFetch struct {
	done chan struct{}
	snap *keySnapshot
	err  error
}

// fetchReason says why a fetch is wanted, which sets how soon after the last attempt it may run.
type fetchReason int

const (
	fetchNoKeys     fetchReason = iota // nothing held yet: after the failure backoff
	fetchUnknownKid                    // a token names a kid not held: once per unknownKidInterval
	fetchStale                         // the held keys are old: after the failure backoff
	fetchForced                        // RefreshKeys: now
)

// lookup returns the published key with the kid and the snapshot it came from, fetching the keys when the
// kid is unknown and a fetch is allowed.
func (ks *keySet) lookup(ctx context.Context, kid string) (publishedKey, *keySnapshot, error) {
	snap := ks.current.Load()
	if snap != nil {
		if k, ok := snap.keys[kid]; ok {
			if ks.now().Sub(snap.fetchedAt) >= ks.refreshInterval {
				ks.start(fetchStale)
			}
			return k, snap, nil
		}
	}
	reason := fetchUnknownKid
	if snap == nil {
		reason = fetchNoKeys
	}
	f := ks.start(reason)
	if f == nil { // too soon after the last attempt
		if snap == nil {
			return publishedKey{}, nil, ks.unavailable(nil)
		}
		return publishedKey{}, nil, errUnknownKey
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return publishedKey{}, nil, fmt.Errorf("ginidentity: waiting for the issuer's signing keys: %w", ctx.Err())
	}
	if f.err != nil {
		if snap == nil {
			return publishedKey{}, nil, ks.unavailable(f.err)
		}
		return publishedKey{}, nil, errUnknownKey
	}
	if k, ok := f.snap.keys[kid]; ok {
		return k, f.snap, nil
	}
	return publishedKey{}, nil, errUnknownKey
}

// generation is the generation of the held keys, 0 when none are held.
func (ks *keySet) generation() uint64 {
	if snap := ks.current.Load(); snap != nil {
		return snap.generation
	}
	return 0
}

// refresh fetches the keys now (or joins the fetch in flight) and waits for it.
func (ks *keySet) refresh(ctx context.Context) error {
	f := ks.start(fetchForced)
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("ginidentity: waiting for the issuer's signing keys: %w", ctx.Err())
	}
}

// start joins the fetch in flight or starts one if the reason allows it this soon after the last attempt;
// it returns nil when it may not.
func (ks *keySet) start(reason fetchReason) *keyFetch {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil {
		return ks.inflight
	}
	now := ks.now()
	if !ks.lastAttempt.IsZero() && reason != fetchForced {
		wait := ks.backoff()
		if reason == fetchUnknownKid {
			wait = max(wait, ks.unknownKidInterval)
		}
		if now.Sub(ks.lastAttempt) < wait {
			return nil
		}
	}
	f := &keyFetch{done: make(chan struct{})}
	ks.inflight = f
	ks.lastAttempt = now
	go ks.run(f)
	return f
}

// backoff is the wait after the last attempt imposed by consecutive failures. Call with mu held.
func (ks *keySet) backoff() time.Duration {
	if ks.failures == 0 {
		return 0
	}
	return min(time.Second<<min(ks.failures-1, 10), maxFetchBackoff)
}

// unavailable is the error for a request that finds no keys held.
func (ks *keySet) unavailable(cause error) error {
	ks.mu.Lock()
	retry := ks.lastAttempt.Add(ks.backoff()).Sub(ks.now())
	ks.mu.Unlock()
	return &keysUnavailableError{retryAfter: max(retry, time.Second), cause: cause}
}

// run performs a fetch and publishes its outcome.
func (ks *keySet) run(f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), ks.fetchTimeout)
	defer cancel()
	snap, err := ks.fetch(ctx)

	ks.mu.Lock()
	prev := ks.current.Load()
	if err != nil {
		ks.failures++
		if prev == nil {
			ks.logger.Error("ginidentity: cannot fetch the issuer's signing keys; bearer tokens are refused with 503 until a fetch succeeds",
				"metadata", ks.metadataURL, "err", err, "retry_in", ks.backoff())
		} else {
			ks.logger.Warn("ginidentity: cannot refresh the issuer's signing keys; the keys held keep serving",
				"metadata", ks.metadataURL, "err", err, "retry_in", ks.backoff())
		}
	} else {
		if ks.failures > 0 {
			ks.logger.Info("ginidentity: fetched the issuer's signing keys again", "metadata", ks.metadataURL, "keys", len(snap.keys))
		}
		ks.failures = 0
		changed := prev != nil && (prev.fingerprint != snap.fingerprint || prev.issuer != snap.issuer)
		switch {
		case prev == nil:
			snap.generation = 1
		case changed:
			snap.generation = prev.generation + 1
		default:
			snap.generation = prev.generation
		}
		ks.current.Store(snap)
		if changed {
			ks.logger.Info("ginidentity: the issuer's signing keys changed", "metadata", ks.metadataURL, "keys", len(snap.keys))
			if ks.onChange != nil {
				ks.onChange()
			}
		}
	}
	ks.inflight = nil
	ks.mu.Unlock()

	f.snap, f.err = snap, err
	close(f.done)
}

// fetch reads the discovery document, then its JWKS.
func (ks *keySet) fetch(ctx context.Context) (*keySnapshot, error) {
	body, err := ks.get(ctx, ks.metadataURL)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return nil, fmt.Errorf("ginidentity: the discovery document %s is not valid JSON: %w", ks.metadataURL, err)
	}
	if u, err := url.Parse(meta.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ginidentity: the discovery document %s has no https issuer (got %q)", ks.metadataURL, meta.Issuer)
	}
	if u, err := url.Parse(meta.JWKSURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ginidentity: the discovery document %s has no https jwks_uri (got %q)", ks.metadataURL, meta.JWKSURI)
	}
	body, err = ks.get(ctx, meta.JWKSURI)
	if err != nil {
		return nil, err
	}
	keys, fingerprint, err := ks.parseKeys(body)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: the key set %s: %w", meta.JWKSURI, err)
	}
	template, tenant := issuerTemplate(meta.Issuer)
	return &keySnapshot{keys: keys, issuer: meta.Issuer, issuerTemplate: template, issuerTenant: tenant,
		fetchedAt: ks.now(), fingerprint: fingerprint}, nil
}

// parseKeys keeps the JWKS entries usable to verify signatures: use "sig" or unset, a kid, an RSA key of at
// least 2048 bits, an EC key on P-256, P-384 or P-521, or an Ed25519 key. The fingerprint changes whenever
// the kept keys do.
func (ks *keySet) parseKeys(body []byte) (map[string]publishedKey, string, error) {
	set, err := jwk.Parse(body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, "", fmt.Errorf("not a JWKS: %w", err)
	}
	keys := make(map[string]publishedKey, set.Len())
	var prints []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid := k.KeyID()
		if kid == "" || (k.KeyUsage() != "" && k.KeyUsage() != string(jwk.ForSignature)) {
			continue
		}
		raw, err := jwk.PublicRawKeyOf(k)
		if err != nil {
			continue
		}
		switch pub := raw.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				ks.logger.Warn("ginidentity: ignoring a published RSA key shorter than 2048 bits", "kid", kid)
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		var alg jwa.SignatureAlgorithm
		if a := k.Algorithm().String(); a != "" {
			alg = jwa.SignatureAlgorithm(a)
		}
		thumb, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			continue
		}
		keys[kid] = publishedKey{key: raw, alg: alg}
		prints = append(prints, kid+":"+string(alg)+":"+base64.RawURLEncoding.EncodeToString(thumb))
	}
	if len(keys) == 0 {
		return nil, "", errors.New("holds no usable signing key")
	}
	slices.Sort(prints)
	return keys, strings.Join(prints, ","), nil
}

// get reads a JSON document, bounded in size; a non-200 answer is an error keeping the status and body.
func (ks *keySet) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ginidentity: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ginidentity: GET %s: reading the body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &metadataHTTPError{URL: u, StatusCode: resp.StatusCode, Body: string(body)}
	}
	if len(body) > maxMetadataBytes {
		return nil, fmt.Errorf("ginidentity: GET %s: the document is larger than %d bytes", u, maxMetadataBytes)
	}
	return body, nil
}

// metadataHTTPError is a non-200 answer from the discovery or JWKS endpoint.
type metadataHTTPError struct {
	URL        string
	StatusCode int
	Body       string
}

func (e *metadataHTTPError) Error() string {
	body := e.Body
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("ginidentity: GET %s: HTTP %d: %s", e.URL, e.StatusCode, strings.TrimSpace(body))
}

// fits reports whether the published key may verify a token signed with alg.
func (k publishedKey) fits(alg jwa.SignatureAlgorithm) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case jwa.ES256:
			return pub.Curve == elliptic.P256()
		case jwa.ES384:
			return pub.Curve == elliptic.P384()
		case jwa.ES512:
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == jwa.EdDSA
	}
	return false
}
