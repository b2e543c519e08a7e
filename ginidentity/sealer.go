package ginidentity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// minSessionKeyBytes is the shortest secret accepted in WebAppOptions.SessionKeys.
const minSessionKeyBytes = 32

// deriveKey derives a key for one use from a session secret, so that one configured secret never serves
// two purposes.
func deriveKey(secret []byte, purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "ginidentity "+purpose, n)
	if err != nil {
		panic("ginidentity: hkdf: " + err.Error()) // only for lengths beyond 255*32 bytes
	}
	return k
}

// sealer encrypts and authenticates the small values a sign-in carries through the browser (the state
// cookie, the sign-out state) with AES-256-GCM, under keys derived from the session keys: the first key
// seals, every key opens, so keys can be rotated. A sealed value names its purpose (authenticated, not
// stored) and its expiry (inside the ciphertext): one sealed for one purpose, or expired, does not open.
type sealer struct {
	aeads []cipher.AEAD
	now   func() time.Time
}

var errUnsealed = errors.New("ginidentity: the sealed value is invalid, expired or was sealed with another key")

func newSealer(secrets [][]byte, now func() time.Time) (*sealer, error) {
	s := &sealer{now: now}
	for _, secret := range secrets {
		block, err := aes.NewCipher(deriveKey(secret, "sealed values aes-256-gcm", 32))
		if err != nil {
			return nil, fmt.Errorf("ginidentity: sealing key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("ginidentity: sealing key: %w", err)
		}
		s.aeads = append(s.aeads, aead)
	}
	if len(s.aeads) == 0 {
		return nil, errors.New("ginidentity: no sealing key")
	}
	return s, nil
}

// seal returns base64url(nonce | AES-GCM(expiry | payload)) with purpose as additional data.
func (s *sealer) seal(purpose string, payload []byte, expires time.Time) string {
	aead := s.aeads[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+8+len(payload)+aead.Overhead())
	_, _ = rand.Read(nonce)
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), uint64(expires.Unix()))
	plain = append(plain, payload...)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(purpose)))
}

// open returns the payload of a value sealed for purpose that has not expired.
func (s *sealer) open(purpose, sealed string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, errUnsealed
	}
	for _, aead := range s.aeads {
		if len(raw) < aead.NonceSize()+8+aead.Overhead() {
			return nil, errUnsealed
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(purpose))
		if err != nil {
			continue
		}
		if !s.now().Before(time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)) {
			return nil, errUnsealed
		}
		return plain[8:], nil
	}
	return nil, errUnsealed
}

// randomString is n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkceChallenge is the S256 code challenge of a PKCE verifier (RFC 7636).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
