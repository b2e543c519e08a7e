package cachetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// LargeValueSize is the size of the largest value the suite stores: far more than the 5 to 10 KB an MSAL
// user partition takes, as a partition holding tokens for many resources can.
const LargeValueSize = 512 << 10

// Run checks newStore's stores against every rule of tokencache.Store, each in its own subtest with a
// store of its own.
func Run(t *testing.T, newStore func(t *testing.T) tokencache.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s tokencache.Store, key func(string) string)
	}{
		{"MissIsErrNotFound", testMiss},
		{"SetThenGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"KeysAreDistinct", testDistinctKeys},
		{"OddKeys", testOddKeys},
		{"EmptyValue", testEmptyValue},
		{"BinaryAndLargeValues", testValues},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"ExpiresAtInThePast", testPastExpiry},
		{"ExpiresAtRequired", testZeroExpiry},
		{"EntryExpires", testExpires},
		{"ConcurrentDistinctKeys", testConcurrentDistinct},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("cachetest: newStore returned nil")
			}
			prefix := "cachetest-" + rand.Text() + "-"
			tc.run(t, s, func(k string) string { return prefix + k })
		})
	}
}

var ctx = context.Background()

func later() time.Time { return time.Now().Add(time.Hour) }

func mustSet(t *testing.T, s tokencache.Store, key string, value []byte) {
	t.Helper()
	if err := s.Set(ctx, key, value, later()); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, s tokencache.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want a value of %d bytes", key, err, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %d bytes %.40q, want %d bytes %.40q", key, len(got), got, len(want), want)
	}
}

func wantMiss(t *testing.T, s tokencache.Store, key string) {
	t.Helper()
	got, err := s.Get(ctx, key)
	if !errors.Is(err, tokencache.ErrNotFound) {
		t.Fatalf("Get(%q) = %d bytes, %v; want tokencache.ErrNotFound", key, len(got), err)
	}
	if got != nil {
		t.Fatalf("Get(%q) returned %d bytes with ErrNotFound, want nil", key, len(got))
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func testMiss(t *testing.T, s tokencache.Store, key func(string) string) {
	wantMiss(t, s, key("never-set"))
	mustSet(t, s, key("set"), []byte("v"))
	wantMiss(t, s, key("se"))
	wantMiss(t, s, key("set2"))
}

func testSetGet(t *testing.T, s tokencache.Store, key func(string) string) {
	v := []byte(`{"AccessToken":{"k":{"secret":"eyJ0eXAiOiJKV1QifQ"}}}`)
	mustSet(t, s, key("user"), v)
	wantValue(t, s, key("user"), v)
	wantValue(t, s, key("user"), v) // a read does not consume the entry
}

func testOverwrite(t *testing.T, s tokencache.Store, key func(string) string) {
	mustSet(t, s, key("k"), []byte("first value, the longer one"))
	mustSet(t, s, key("k"), []byte("second"))
	wantValue(t, s, key("k"), []byte("second"))
	if err := s.Set(ctx, key("k"), []byte("third"), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, key("k"), []byte("third"))
}

func testDelete(t *testing.T, s tokencache.Store, key func(string) string) {
	mustSet(t, s, key("a"), []byte("A"))
	mustSet(t, s, key("b"), []byte("B"))
	if err := s.Delete(ctx, key("a")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMiss(t, s, key("a"))
	wantValue(t, s, key("b"), []byte("B"))
	if err := s.Delete(ctx, key("a")); err != nil {
		t.Fatalf("Delete of a deleted key: %v, want nil", err)
	}
	if err := s.Delete(ctx, key("never-set")); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
	mustSet(t, s, key("a"), []byte("again"))
	wantValue(t, s, key("a"), []byte("again"))
}

func testDistinctKeys(t *testing.T, s tokencache.Store, key func(string) string) {
	// Keys that differ by case, a suffix or a separator must never share an entry.
	keys := []string{"uid.utid", "uid.utid ", "UID.UTID", "uid.utid.", "uid", "uid.utid_AppTokenCache", "uid:utid"}
	for _, k := range keys {
		mustSet(t, s, key(k), []byte("value of "+k))
	}
	for _, k := range keys {
		wantValue(t, s, key(k), []byte("value of "+k))
	}
}

func testOddKeys(t *testing.T, s tokencache.Store, key func(string) string) {
	keys := map[string]string{
		"spaces":        "a key with spaces",
		"newlines":      "line1\nline2\r\n",
		"glob":          "*?[a-z]{x}",
		"slashes":       `a/b\c`,
		"base64":        "r2s+Yq/1Zw==",
		"unicode":       "ключ-鍵-🔑",
		"nul":           "before\x00after",
		"invalid utf-8": "\xff\xfe",
		"long":          string(bytes.Repeat([]byte("k"), 1024)),
	}
	for name, k := range keys {
		mustSet(t, s, key(k), []byte(name))
	}
	for name, k := range keys {
		wantValue(t, s, key(k), []byte(name))
	}
	for _, k := range keys {
		if err := s.Delete(ctx, key(k)); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		wantMiss(t, s, key(k))
	}
}

func testEmptyValue(t *testing.T, s tokencache.Store, key func(string) string) {
	for name, v := range map[string][]byte{"empty": {}, "nil": nil} {
		mustSet(t, s, key(name), v)
		got, err := s.Get(ctx, key(name))
		if err != nil || len(got) != 0 {
			t.Fatalf("Get after Set of a %s value = %q, %v; want an empty value and no error", name, got, err)
		}
	}
}

func testValues(t *testing.T, s tokencache.Store, key func(string) string) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := map[string][]byte{
		"every byte":       all,
		"msal partition":   randomBytes(5 << 10),
		"large":            randomBytes(LargeValueSize),
		"json with quotes": []byte(`{"a":"\"\\"}`),
	}
	for name, v := range values {
		mustSet(t, s, key(name), v)
	}
	for name, v := range values {
		wantValue(t, s, key(name), v)
	}
}

func testCallerOwnsSlices(t *testing.T, s tokencache.Store, key func(string) string) {
	v := []byte("original")
	mustSet(t, s, key("k"), v)
	copy(v, "MODIFIED")
	wantValue(t, s, key("k"), []byte("original"))
	got, err := s.Get(ctx, key("k"))
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "MODIFIED")
	wantValue(t, s, key("k"), []byte("original"))
}

func testPastExpiry(t *testing.T, s tokencache.Store, key func(string) string) {
	if err := s.Set(ctx, key("expired"), []byte("v"), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("Set with a past expiresAt: %v, want nil", err)
	}
	wantMiss(t, s, key("expired"))
	// Writing an expired value over a live one must not leave the older value behind.
	mustSet(t, s, key("live"), []byte("old"))
	if err := s.Set(ctx, key("live"), []byte("new"), time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatalf("Set with a past expiresAt: %v, want nil", err)
	}
	wantMiss(t, s, key("live"))
}

func testZeroExpiry(t *testing.T, s tokencache.Store, key func(string) string) {
	if err := s.Set(ctx, key("k"), []byte("v"), time.Time{}); err == nil {
		t.Fatal("Set with a zero expiresAt succeeded, want an error")
	}
	wantMiss(t, s, key("k"))
	if err := s.Set(ctx, "", []byte("v"), later()); err == nil {
		t.Fatal("Set with an empty key succeeded, want an error")
	}
}

func testExpires(t *testing.T, s tokencache.Store, key func(string) string) {
	const ttl = 300 * time.Millisecond
	expiresAt := time.Now().Add(ttl)
	if err := s.Set(ctx, key("short"), []byte("v"), expiresAt); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, key("long"), []byte("stays"))
	got, err := s.Get(ctx, key("short"))
	// Only a read that finished before expiresAt must hit; a slow machine may legitimately miss.
	if time.Now().Before(expiresAt) && (err != nil || string(got) != "v") {
		t.Fatalf("Get before expiresAt = %q, %v; want the value", got, err)
	}
	time.Sleep(time.Until(expiresAt) + 20*time.Millisecond)
	wantMiss(t, s, key("short"))
	wantValue(t, s, key("long"), []byte("stays"))
}

func testConcurrentDistinct(t *testing.T, s tokencache.Store, key func(string) string) {
	const workers, rounds = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				k := key(fmt.Sprintf("user-%d", w))
				want := fmt.Appendf(randomBytes(64), "|worker %d round %d", w, r)
				if err := s.Set(ctx, k, want, later()); err != nil {
					errs <- fmt.Errorf("Set(%q): %w", k, err)
					return
				}
				got, err := s.Get(ctx, k)
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("worker %d round %d: Get(%q) = %q, %v; want its own last write", w, r, k, got, err)
					return
				}
				if r%4 == 3 {
					if err := s.Delete(ctx, k); err != nil {
						errs <- err
						return
					}
					if got, err := s.Get(ctx, k); !errors.Is(err, tokencache.ErrNotFound) {
						errs <- fmt.Errorf("worker %d: Get after Delete = %q, %v; want ErrNotFound", w, got, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testConcurrentSameKey(t *testing.T, s tokencache.Store, key func(string) string) {
	// Writers race on one key; every read must return one whole value that some writer wrote.
	const writers, rounds = 8, 30
	k := key("shared")
	written := make(map[string]bool)
	values := make([][][]byte, writers)
	for w := range values {
		for r := range rounds {
			v := bytes.Repeat([]byte{byte('A' + w)}, 2000+r)
			values[w] = append(values[w], v)
			written[string(v)] = true
		}
	}
	mustSet(t, s, k, values[0][0])
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for w := range writers {
		wg.Go(func() {
			for _, v := range values[w] {
				if err := s.Set(ctx, k, v, later()); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range rounds {
				got, err := s.Get(ctx, k)
				if err != nil {
					errs <- fmt.Errorf("a read during concurrent writes: %w", err)
					return
				}
				if !written[string(got)] {
					errs <- fmt.Errorf("a read returned %d bytes that no writer wrote (torn or foreign value)", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCanceled(t *testing.T, s tokencache.Store, key func(string) string) {
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	mustSet(t, s, key("kept"), []byte("v"))
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"canceled", canceled, context.Canceled}, {"past deadline", expired, context.DeadlineExceeded}} {
		if _, err := s.Get(c.ctx, key("kept")); !errors.Is(err, c.want) {
			t.Errorf("Get with a %s context: %v, want %v", c.name, err, c.want)
		}
		if err := s.Set(c.ctx, key("new"), []byte("v"), later()); !errors.Is(err, c.want) {
			t.Errorf("Set with a %s context: %v, want %v", c.name, err, c.want)
		}
		if err := s.Set(c.ctx, key("kept"), []byte("changed"), later()); !errors.Is(err, c.want) {
			t.Errorf("Set with a %s context: %v, want %v", c.name, err, c.want)
		}
		if err := s.Delete(c.ctx, key("kept")); !errors.Is(err, c.want) {
			t.Errorf("Delete with a %s context: %v, want %v", c.name, err, c.want)
		}
		wantMiss(t, s, key("new"))
		wantValue(t, s, key("kept"), []byte("v"))
	}
}
