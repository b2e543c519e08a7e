package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The program refuses to start, saying what to fix, when its TokenCache or Sessions configuration cannot
// work: Redis unreachable (naming the address, within the timeout), tokens in Redis without encryption keys,
// sessions in Redis without SESSION_KEYS.
func TestStoresConfigurationErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	const azureAd = `"AzureAd":{"Instance":"https://login.microsoftonline.com/","TenantId":"organizations","ClientId":"` +
		entratest.WebAppClientID + `","ClientSecret":"s"}`
	const key = "q3pY0bZl8Xo7cJd4Tn2VhR6wKs1uMe9AiFgLtBrNyQU="
	for _, tt := range []struct {
		name, settings, sessionKeys string
		want                        []string
	}{
		{"Redis unreachable", `{` + azureAd + `, "TokenCache":{"RedisAddress":"` + closed + `","EncryptionKeys":["` + key + `"],"OperationTimeout":"300ms"}}`, "",
			[]string{"TokenCache:RedisAddress", "cannot reach Redis at " + closed}},
		{"sessions' Redis unreachable", `{` + azureAd + `, "Sessions":{"Store":"Redis","RedisAddress":"` + closed + `","OperationTimeout":"300ms"}}`, key,
			[]string{"Sessions:RedisAddress", "cannot reach Redis at " + closed}},
		{"no encryption keys", `{` + azureAd + `, "TokenCache":{"Store":"Redis","RedisAddress":"` + closed + `"}}`, "",
			[]string{"TokenCache:EncryptionKeys is required", "TokenCache__EncryptionKeys__0"}},
		{"sessions in Redis without SESSION_KEYS", `{` + azureAd + `, "Sessions":{"Store":"Redis","RedisAddress":"` + closed + `"}}`, "",
			[]string{"SESSION_KEYS is required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := run(context.Background(), runOptions{configPath: writeFile(t, "appsettings.json", tt.settings),
				sessionKeys: tt.sessionKeys, logOutput: io.Discard})
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err %v, want it to say %q", err, want)
				}
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("the error shows a key: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
