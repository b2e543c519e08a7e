package cachetest_test

import (
	"testing"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/cachetest"
)

// A store of your own proves it behaves as token acquisition expects with one call in its tests.
func ExampleRun() {
	testMyStore := func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) tokencache.Store {
			store, err := tokencache.NewMemory(tokencache.MemoryOptions{}) // your store's constructor
			if err != nil {
				t.Fatal(err)
			}
			return store
		})
	}
	_ = testMyStore // in your _test.go: func TestMyStore(t *testing.T) { ... }
}
