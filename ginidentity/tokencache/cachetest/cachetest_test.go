package cachetest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/tokencache"
	"github.com/gin-identity/kit/ginidentity/tokencache/cachetest"
)

// flawedStore is a map-based store with one deliberate defect, to prove the suite catches it.
type flawedStore struct {
	flaw string
	mu   sync.Mutex
	m    map[string]flawedEntry
}

type flawedEntry struct {
	v   []byte
	exp time.Time
}

func (s *flawedStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil && s.flaw != "ignores context" {
		return nil, err
	}
	if s.flaw == "folds case" {
		key = strings.ToLower(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || (!time.Now().Before(e.exp) && s.flaw != "serves expired entries") {
		return nil, tokencache.ErrNotFound
	}
	if s.flaw == "returns its own slice" {
		return e.v, nil
	}
	return append([]byte{}, e.v...), nil
}

func (s *flawedStore) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	if err := ctx.Err(); err != nil && s.flaw != "ignores context" {
		return err
	}
	if s.flaw != "accepts a zero expiresAt" {
		if err := tokencache.CheckSet(key, exp); err != nil {
			return err
		}
	}
	if s.flaw == "folds case" {
		key = strings.ToLower(key)
	}
	if s.flaw == "truncates large values" && len(value) > 64<<10 {
		value = value[:64<<10]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flaw == "keeps the first value" {
		if _, ok := s.m[key]; ok {
			return nil
		}
	}
	s.m[key] = flawedEntry{append([]byte{}, value...), exp}
	return nil
}

func (s *flawedStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil && s.flaw != "ignores context" {
		return err
	}
	if s.flaw == "folds case" {
		key = strings.ToLower(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && s.flaw == "fails to delete a missing key" {
		return tokencache.ErrNotFound
	}
	delete(s.m, key)
	return nil
}

func newFlawed(flaw string) func(t *testing.T) tokencache.Store {
	return func(t *testing.T) tokencache.Store {
		return &flawedStore{flaw: flaw, m: make(map[string]flawedEntry)}
	}
}

func TestFlawlessMapStorePasses(t *testing.T) {
	cachetest.Run(t, newFlawed(""))
}

// TestRunFlawedStore is run by TestSuiteCatchesFlaws in a child process, once per flaw.
func TestRunFlawedStore(t *testing.T) {
	flaw := os.Getenv("CACHETEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestSuiteCatchesFlaws")
	}
	cachetest.Run(t, newFlawed(flaw))
}

func TestSuiteCatchesFlaws(t *testing.T) {
	for flaw, failing := range map[string]string{
		"ignores context":               "CanceledContext",
		"folds case":                    "KeysAreDistinct",
		"serves expired entries":        "EntryExpires",
		"returns its own slice":         "CallerOwnsSlices",
		"accepts a zero expiresAt":      "ExpiresAtRequired",
		"truncates large values":        "BinaryAndLargeValues",
		"keeps the first value":         "Overwrite",
		"fails to delete a missing key": "Delete",
	} {
		t.Run(flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRunFlawedStore$", "-test.v")
			cmd.Env = append(os.Environ(), "CACHETEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s:\n%s", flaw, out)
			}
			if want := "--- FAIL: TestRunFlawedStore/" + failing; !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		})
	}
}
