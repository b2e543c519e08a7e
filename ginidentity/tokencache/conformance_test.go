package tokencache_test

import (
	"crypto/rand"
	"testing"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/cachetest"
)

func newMemory(t *testing.T) *tokencache.Memory {
	t.Helper()
	m, err := tokencache.NewMemory(tokencache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) tokencache.Store { return newMemory(t) })
}

func TestEncryptedMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) tokencache.Store {
		e, err := tokencache.NewEncrypted(newMemory(t), tokencache.EncryptionKeys{Current: newKey()})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func newKey() []byte {
	k := make([]byte, tokencache.KeySize)
	rand.Read(k)
	return k
}
