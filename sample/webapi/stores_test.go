package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The TokenCache section reaches the web API's token acquirer: a Redis that does not answer stops the
// program at start with an error naming it.
func TestTokenCacheRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	path := filepath.Join(t.TempDir(), "appsettings.json")
	settings := `{"AzureAd": {"Instance": "https://login.microsoftonline.com/", "TenantId": "organizations", "ClientId": "` +
		entratest.WebAPIClientID + `", "ClientSecret": "s"},
  "TokenCache": {"RedisAddress": "` + closed + `", "EncryptionKeys": ["q3pY0bZl8Xo7cJd4Tn2VhR6wKs1uMe9AiFgLtBrNyQU="], "OperationTimeout": "300ms"}}`
	if err := os.WriteFile(path, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), runOptions{configPath: path, logOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "TokenCache:RedisAddress") || !strings.Contains(err.Error(), "cannot reach Redis at "+closed) {
		t.Fatalf("err %v, want one naming TokenCache:RedisAddress and %s", err, closed)
	}
}
