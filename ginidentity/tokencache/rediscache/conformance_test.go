package rediscache

import (
	"testing"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/cachetest"
)

func TestConformance(t *testing.T) {
	c := requireRedis(t)
	for name, opts := range map[string]Options{
		"plaintext":    {InsecurePlaintext: true},
		"plaintext+L1": {InsecurePlaintext: true, L1MaxBytes: 8 << 20},
		"encrypted":    {},
		"encrypted+L1": {L1MaxBytes: 8 << 20, WhenRedisFails: ServeStaleFromL1},
	} {
		t.Run(name, func(t *testing.T) {
			cachetest.Run(t, func(t *testing.T) tokencache.Store {
				o := opts
				o.Prefix = testPrefix(t, c)
				if !o.InsecurePlaintext {
					o.EncryptionKeys = randomKeys(t)
				}
				return newStore(t, o)
			})
		})
	}
}
