// Package cachetest is a conformance suite for tokencache.Store implementations, in the spirit of
// gin-contrib/sessions' tester package: a store that passes Run behaves as token acquisition expects.
//
// Call it from your store's tests with a constructor that returns a fresh, empty store (or one whose other
// keys do not matter: the suite only uses keys with a random prefix of its own):
//
//	func TestMyStore(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) tokencache.Store { return newMyStore(t) })
//	}
//
// Besides the rules documented on tokencache.Store, the suite requires that a store accept values of at least
// LargeValueSize bytes and keys of any bytes up to 1 KiB.
package cachetest
