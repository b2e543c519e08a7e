package tokencache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// Layout of a blob written by Encrypted: version, key id, then AES-GCM's random nonce, ciphertext and tag.
const (
	blobVersion  = 1
	keyIDSize    = 8
	headerSize   = 1 + keyIDSize
	blobOverhead = headerSize + 12 + 16
)

// EncryptionKeys are the keys of an Encrypted store.
type EncryptionKeys struct {
	// Current encrypts every write: 32 random bytes (AES-256). ParseEncryptionKeys reads it from base64.
	Current []byte
	// Previous keys only decrypt entries written before a rotation. To rotate, make the new key Current and
	// move the old one here until its entries have expired.
	Previous [][]byte
	// Logger receives a warning for each entry that cannot be decrypted (tampered, moved to another key, or
	// written with a key not listed here). Nil discards them. Keys and tokens are never logged.
	Logger *slog.Logger
}

// ParseEncryptionKeys decodes base64 keys (standard or URL alphabet, with or without padding), for example
// the output of `openssl rand -base64 32`. The first key is the current one; any others are previous keys.
// Errors never include the key material.
func ParseEncryptionKeys(current string, previous ...string) (EncryptionKeys, error) {
	var keys EncryptionKeys
	var errs []error
	var err error
	if keys.Current, err = decodeKey("Current", current); err != nil {
		errs = append(errs, err)
	}
	for i, s := range previous {
		k, err := decodeKey(fmt.Sprintf("Previous[%d]", i), s)
		if err != nil {
			errs = append(errs, err)
		}
		keys.Previous = append(keys.Previous, k)
	}
	if err := errors.Join(errs...); err != nil {
		return EncryptionKeys{}, err
	}
	return keys, nil
}

func decodeKey(name, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("tokencache: encryption key %s is empty: generate one with `openssl rand -base64 32`", name)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("tokencache: encryption key %s decodes to %d bytes; AES-256 needs exactly %d: generate one with `openssl rand -base64 32`", name, len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("tokencache: encryption key %s is not base64: generate one with `openssl rand -base64 32`", name)
}

// Encrypted is a Store that encrypts every value with AES-256-GCM before handing it to an inner store, so
// that the inner store (Redis, a database) never holds a token in clear text. The key under which a value is
// stored is authenticated with it: a blob copied under another key does not decrypt. A blob that does not
// decrypt is reported to EncryptionKeys.Logger and treated as a miss; it is left in place, because it may
// have been written by an instance that already knows a newer key.
type Encrypted struct {
	inner   Store
	current encKey
	byID    map[[keyIDSize]byte]cipher.AEAD
	log     *slog.Logger
}

var _ Store = (*Encrypted)(nil)

type encKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewEncrypted wraps inner. It checks every key at once and names the one to fix.
func NewEncrypted(inner Store, keys EncryptionKeys) (*Encrypted, error) {
	var errs []error
	if inner == nil {
		errs = append(errs, errors.New("tokencache: NewEncrypted needs an inner store (for example one from NewMemory or rediscache.New)"))
	}
	e := &Encrypted{inner: inner, byID: make(map[[keyIDSize]byte]cipher.AEAD), log: keys.Logger}
	add := func(name string, raw []byte) *encKey {
		k, err := newEncKey(name, raw)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if _, dup := e.byID[k.id]; !dup {
			e.byID[k.id] = k.aead
		}
		return &k
	}
	if cur := add("Current", keys.Current); cur != nil {
		e.current = *cur
	}
	for i, raw := range keys.Previous {
		add(fmt.Sprintf("Previous[%d]", i), raw)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

func newEncKey(name string, raw []byte) (encKey, error) {
	if len(raw) == 0 {
		return encKey{}, fmt.Errorf("tokencache: EncryptionKeys.%s is empty: set a %d-byte key, or parse `openssl rand -base64 32` with ParseEncryptionKeys", name, KeySize)
	}
	if len(raw) != KeySize {
		return encKey{}, fmt.Errorf("tokencache: EncryptionKeys.%s is %d bytes; AES-256 needs exactly %d (base64 text must go through ParseEncryptionKeys)", name, len(raw), KeySize)
	}
	if subtle.ConstantTimeCompare(raw, make([]byte, KeySize)) == 1 {
		return encKey{}, fmt.Errorf("tokencache: EncryptionKeys.%s is all zeros: use 32 random bytes, e.g. from `openssl rand -base64 32`", name)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return encKey{}, fmt.Errorf("tokencache: EncryptionKeys.%s: %w", name, err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return encKey{}, fmt.Errorf("tokencache: EncryptionKeys.%s: %w", name, err)
	}
	// The id tells which key wrote a blob without revealing anything about the key.
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("ginidentity/tokencache key id"))
	var k encKey
	copy(k.id[:], mac.Sum(nil))
	k.aead = aead
	return k, nil
}

// additionalData binds a blob to its header and to the key it is stored under.
func additionalData(header []byte, key string) []byte {
	ad := make([]byte, 0, len(header)+len(key))
	return append(append(ad, header...), key...)
}

// Get decrypts the value stored under key. A value that cannot be decrypted is logged and reported as
// ErrNotFound.
func (e *Encrypted) Get(ctx context.Context, key string) ([]byte, error) {
	blob, err := e.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	plain, reason := e.open(blob, key)
	if reason != "" {
		e.log.WarnContext(ctx, "tokencache: cannot decrypt the entry; treating it as a miss", "key", key, "reason", reason)
		return nil, ErrNotFound
	}
	return plain, nil
}

func (e *Encrypted) open(blob []byte, key string) (plain []byte, reason string) {
	if len(blob) < blobOverhead {
		return nil, fmt.Sprintf("%d bytes is too short for an encrypted entry", len(blob))
	}
	if blob[0] != blobVersion {
		return nil, fmt.Sprintf("unknown format version %d", blob[0])
	}
	header := blob[:headerSize]
	aead := e.byID[[keyIDSize]byte(header[1:])]
	if aead == nil {
		return nil, "written with a key that is not configured (id " + hex.EncodeToString(header[1:]) + "): list it in EncryptionKeys.Previous while rotating"
	}
	// Decrypt in place: the inner store's Get returned a slice we own.
	sealed := blob[headerSize:]
	plain, err := aead.Open(sealed[:0], nil, sealed, additionalData(header, key))
	if err != nil {
		return nil, "authentication failed: the entry was altered or stored under another key"
	}
	return plain, ""
}

// Set encrypts value with the current key and stores it under key.
func (e *Encrypted) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := CheckSet(key, expiresAt); err != nil {
		return err
	}
	blob := make([]byte, headerSize, blobOverhead+len(value))
	blob[0] = blobVersion
	copy(blob[1:], e.current.id[:])
	blob = e.current.aead.Seal(blob, nil, value, additionalData(blob[:headerSize], key))
	return e.inner.Set(ctx, key, blob, expiresAt)
}

// Delete removes key from the inner store.
func (e *Encrypted) Delete(ctx context.Context, key string) error {
	return e.inner.Delete(ctx, key)
}
