package tokencache

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func randomKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k)
	return k
}

// logBuffer collects what an Encrypted store logs.
type logBuffer struct{ bytes.Buffer }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func newEncrypted(t *testing.T, inner Store, keys EncryptionKeys) *Encrypted {
	t.Helper()
	e, err := NewEncrypted(inner, keys)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var secret = []byte(`{"RefreshToken":{"k":{"secret":"0.AXYA-very-secret-refresh-token"}}}`)

func TestEncryptedStoresOnlyCiphertext(t *testing.T) {
	inner := mustMemory(t, MemoryOptions{})
	e := newEncrypted(t, inner, EncryptionKeys{Current: randomKey()})
	exp := time.Now().Add(time.Hour)
	if err := e.Set(ctx, "uid.utid", secret, exp); err != nil {
		t.Fatal(err)
	}
	blob1, _ := inner.Get(ctx, "uid.utid")
	if bytes.Contains(blob1, []byte("secret")) || len(blob1) != len(secret)+blobOverhead {
		t.Fatalf("inner store holds %d bytes containing the plain text: %q", len(blob1), blob1)
	}
	if err := e.Set(ctx, "uid.utid", secret, exp); err != nil {
		t.Fatal(err)
	}
	blob2, _ := inner.Get(ctx, "uid.utid")
	if bytes.Equal(blob1[headerSize:headerSize+12], blob2[headerSize:headerSize+12]) || bytes.Equal(blob1, blob2) {
		t.Fatal("two writes of the same value used the same nonce")
	}
	got, err := e.Get(ctx, "uid.utid")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// TestEncryptedRejectsBadBlobs covers every way a stored blob can be wrong: each is a logged miss, never a
// panic and never another key's value.
func TestEncryptedRejectsBadBlobs(t *testing.T) {
	key := randomKey()
	exp := time.Now().Add(time.Hour)
	inner := mustMemory(t, MemoryOptions{})
	var log logBuffer
	e := newEncrypted(t, inner, EncryptionKeys{Current: key, Logger: log.logger()})
	if err := e.Set(ctx, "alice", secret, exp); err != nil {
		t.Fatal(err)
	}
	good, _ := inner.Get(ctx, "alice")
	otherKey := newEncrypted(t, mustMemory(t, MemoryOptions{}), EncryptionKeys{Current: randomKey()})
	otherInner := otherKey.inner.(*Memory)
	otherKey.Set(ctx, "bob", secret, exp)
	foreign, _ := otherInner.Get(ctx, "bob")

	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	cases := []struct {
		name, key string
		blob      []byte
		wantLog   string
	}{
		{"moved to another user's key", "bob", good, "stored under another key"},
		{"flipped ciphertext bit", "alice", flip(len(good) - 20), "authentication failed"},
		{"flipped tag bit", "alice", flip(len(good) - 1), "authentication failed"},
		{"flipped nonce bit", "alice", flip(headerSize), "authentication failed"},
		{"unknown key", "alice", foreign, "not configured"},
		{"unknown version", "alice", append([]byte{9}, good[1:]...), "unknown format version 9"},
		{"plain text", "alice", secret[:20], "too short"},
		{"empty", "alice", []byte{}, "too short"},
		{"truncated", "alice", good[:len(good)-1], "authentication failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log.Reset()
			if err := inner.Set(ctx, c.key, c.blob, exp); err != nil {
				t.Fatal(err)
			}
			got, err := e.Get(ctx, c.key)
			if !errors.Is(err, ErrNotFound) || got != nil {
				t.Fatalf("Get = %q, %v; want a miss", got, err)
			}
			if out := log.String(); !strings.Contains(out, c.wantLog) || !strings.Contains(out, "key="+c.key) {
				t.Fatalf("log %q does not report %q for key %s", out, c.wantLog, c.key)
			}
			if strings.Contains(log.String(), base64.StdEncoding.EncodeToString(key)) {
				t.Fatal("the key was logged")
			}
		})
	}
	// Every truncation of a valid blob is a miss, never a panic.
	for n := range len(good) {
		inner.Set(ctx, "alice", good[:n], exp)
		if _, err := e.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a blob truncated to %d bytes: %v, want ErrNotFound", n, err)
		}
	}
}

func TestEncryptedKeyRotation(t *testing.T) {
	oldKey, newKey := randomKey(), randomKey()
	inner := mustMemory(t, MemoryOptions{})
	exp := time.Now().Add(time.Hour)
	before := newEncrypted(t, inner, EncryptionKeys{Current: oldKey})
	if err := before.Set(ctx, "alice", []byte("written before rotation"), exp); err != nil {
		t.Fatal(err)
	}
	rotated := newEncrypted(t, inner, EncryptionKeys{Current: newKey, Previous: [][]byte{oldKey}})
	if got, err := rotated.Get(ctx, "alice"); err != nil || string(got) != "written before rotation" {
		t.Fatalf("the rotated store cannot read an entry written with the previous key: %q, %v", got, err)
	}
	if err := rotated.Set(ctx, "bob", []byte("written after rotation"), exp); err != nil {
		t.Fatal(err)
	}
	// New writes use the new key only: a store that knows only the old key cannot read them.
	if _, err := before.Get(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a store with only the old key read a new write: %v", err)
	}
	onlyNew := newEncrypted(t, inner, EncryptionKeys{Current: newKey})
	if got, err := onlyNew.Get(ctx, "bob"); err != nil || string(got) != "written after rotation" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if _, err := onlyNew.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an old entry decrypted after its key was retired: %v", err)
	}
}

func TestNewEncryptedErrorsNameTheFix(t *testing.T) {
	mem := mustMemory(t, MemoryOptions{})
	for _, c := range []struct {
		name  string
		inner Store
		keys  EncryptionKeys
		want  []string
	}{
		{"nothing", nil, EncryptionKeys{}, []string{"needs an inner store", "EncryptionKeys.Current is empty", "openssl rand -base64 32"}},
		{"base64 text as raw key", mem, EncryptionKeys{Current: []byte(base64.StdEncoding.EncodeToString(randomKey()))}, []string{"Current is 44 bytes", "ParseEncryptionKeys"}},
		{"all zeros", mem, EncryptionKeys{Current: make([]byte, 32)}, []string{"Current is all zeros"}},
		{"bad previous key", mem, EncryptionKeys{Current: randomKey(), Previous: [][]byte{randomKey(), []byte("short")}}, []string{"Previous[1] is 5 bytes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewEncrypted(c.inner, c.keys)
			if err == nil {
				t.Fatal("NewEncrypted succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseEncryptionKeys(t *testing.T) {
	raw := randomKey()
	for name, s := range map[string]string{
		"standard":         base64.StdEncoding.EncodeToString(raw),
		"url":              base64.URLEncoding.EncodeToString(raw),
		"unpadded url":     base64.RawURLEncoding.EncodeToString(raw),
		"trailing newline": base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		keys, err := ParseEncryptionKeys(s, s)
		if err != nil || !bytes.Equal(keys.Current, raw) || len(keys.Previous) != 1 || !bytes.Equal(keys.Previous[0], raw) {
			t.Errorf("%s: ParseEncryptionKeys = %v, %v", name, keys, err)
		}
	}
	short := base64.StdEncoding.EncodeToString(raw[:16])
	_, err := ParseEncryptionKeys("", "not base64!", short)
	if err == nil {
		t.Fatal("ParseEncryptionKeys accepted bad keys")
	}
	for _, w := range []string{"Current is empty", "Previous[0] is not base64", "Previous[1] decodes to 16 bytes", "openssl rand -base64 32"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), short) {
		t.Error("the error contains key material")
	}
}
