package ginidentity

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewTokenAcquirerChecksEverything(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  *Config
		opts *AcquirerOptions
		want []string
	}{
		{"nil config", nil, nil, []string{"configuration is nil"}},
		{"empty section", &Config{}, nil, []string{"AzureAd:ClientId is required", "AzureAd:TenantId is required"}},
		{"no credential", &Config{AzureAd: AzureAdOptions{TenantID: "contoso.onmicrosoft.com", ClientID: "00001111-aaaa-2222-bbbb-3333cccc4444"}},
			nil, []string{"AzureAd:ClientCredentials has no credential"}},
		{"http authority", &Config{AzureAd: AzureAdOptions{Instance: "http://login.example.com/", TenantID: "contoso.onmicrosoft.com",
			ClientID: "00001111-aaaa-2222-bbbb-3333cccc4444", ClientSecret: "s"}}, nil, []string{"AzureAd:Instance must use https"}},
		{"negative options", &Config{AzureAd: AzureAdOptions{TenantID: "contoso.onmicrosoft.com", ClientID: "00001111-aaaa-2222-bbbb-3333cccc4444", ClientSecret: "s"}},
			&AcquirerOptions{UserCacheLifetime: -time.Hour, IndexEntries: -1}, []string{"AcquirerOptions.UserCacheLifetime is negative", "AcquirerOptions.IndexEntries is negative"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewTokenAcquirer(c.cfg, c.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	var ce *ConfigError
	_, err := NewTokenAcquirer(&Config{}, nil)
	if !errors.As(err, &ce) {
		t.Errorf("error %v is not a *ConfigError", err)
	}
	// The caller's configuration is left as it is.
	cfg := &Config{AzureAd: AzureAdOptions{TenantID: "contoso.onmicrosoft.com", ClientID: "00001111-aaaa-2222-bbbb-3333cccc4444", ClientSecret: "s"}}
	if _, err := NewTokenAcquirer(cfg, &AcquirerOptions{Logger: acqQuietLogger()}); err != nil || cfg.AzureAd.CallbackPath != "" {
		t.Errorf("NewTokenAcquirer: %v; callback path %q", err, cfg.AzureAd.CallbackPath)
	}
}
