package ginidentity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigPrintsWithoutSecrets(t *testing.T) {
	const (
		secret   = "client-secret-value"
		password = "pfx-password-value"
		b64      = "TUlJQ2VydGlmaWNhdGU="
		header   = "api-key-in-a-header"
		extra    = "value-kept-in-extra"
	)
	cfg := &Config{
		AzureAd: AzureAdOptions{
			TenantID: testTenantID, ClientID: testClientID, ClientSecret: secret,
			ClientCredentials: []CredentialDescription{
				{SourceType: SourceClientSecret, ClientSecret: secret},
				{SourceType: SourcePath, CertificateDiskPath: "c.pfx", CertificatePassword: password},
				{SourceType: SourceBase64Encoded, Base64EncodedValue: b64, Extra: map[string]json.RawMessage{"Data": json.RawMessage(`"` + extra + `"`)}},
			},
			ExtraQueryParameters: map[string]string{"dc": extra},
			Extra:                map[string]json.RawMessage{"Other": json.RawMessage(`"` + extra + `"`)},
		},
		DownstreamApis: map[string]DownstreamAPIOptions{"TodoList": {
			BaseURL: "https://api", Scopes: []string{"s"},
			ExtraHeaderParameters: map[string]string{"Ocp-Apim-Subscription-Key": header},
			AcquireTokenOptions:   AcquireTokenOptions{ExtraHeadersParameters: map[string]string{"x-key": header}},
		}},
		MicrosoftGraph: MicrosoftGraphOptions{Extra: map[string]json.RawMessage{"k": json.RawMessage(`"` + extra + `"`)}},
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "azuread", cfg.AzureAd, "cred", cfg.AzureAd.ClientCredentials[0])
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", *cfg, "api", cfg.DownstreamApis["TodoList"], "graph", cfg.MicrosoftGraph)
	log.New(&logged, "", 0).Println(cfg, cfg.AzureAd.ClientCredentials)

	outputs := map[string]string{
		"%v":                 fmt.Sprintf("%v", cfg),
		"%+v":                fmt.Sprintf("%+v", *cfg),
		"%s":                 fmt.Sprintf("[%s]", cfg),
		"%#v":                fmt.Sprintf("%#v", cfg),
		"%q":                 fmt.Sprintf("%q", cfg),
		"%v of AzureAd":      fmt.Sprintf("%v", cfg.AzureAd),
		"%#v of AzureAd":     fmt.Sprintf("%#v", cfg.AzureAd),
		"%+v of credentials": fmt.Sprintf("%+v", cfg.AzureAd.ClientCredentials),
		"%#v of credentials": fmt.Sprintf("%#v", cfg.AzureAd.ClientCredentials),
		"%v of one":          fmt.Sprintf("%v", cfg.AzureAd.ClientCredentials[1]),
		"%#v of APIs":        fmt.Sprintf("%#v", cfg.DownstreamApis),
		"%+v of token opts":  fmt.Sprintf("%+v", cfg.DownstreamApis["TodoList"].AcquireTokenOptions),
		"%#v of graph":       fmt.Sprintf("%#v", cfg.MicrosoftGraph),
		"slog and log":       logged.String(),
	}
	for verb, out := range outputs {
		for _, s := range []string{secret, password, b64, header, extra} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows %q:\n%s", verb, s, out)
			}
		}
		if !strings.Contains(out, redacted) && !strings.Contains(out, "...") {
			t.Errorf("%s shows neither %s nor ...:\n%s", verb, redacted, out)
		}
	}

	want := "{AzureAd:{TenantId:" + testTenantID + " ClientId:" + testClientID + " ClientCredentials:[" +
		"{SourceType:ClientSecret ClientSecret:[redacted]} {SourceType:Path CertificateDiskPath:c.pfx CertificatePassword:[redacted]} " +
		"{SourceType:Base64Encoded Base64EncodedValue:[redacted] Extra:{Data:...}}] ClientSecret:[redacted] ExtraQueryParameters:{dc:...} Extra:{Other:...}} " +
		"DownstreamApis:{TodoList:{BaseUrl:https://api Scopes:[s] ExtraHeaderParameters:{Ocp-Apim-Subscription-Key:...} " +
		"AcquireTokenOptions:{ExtraHeadersParameters:{x-key:...}}}} MicrosoftGraph:{Extra:{k:...}}}"
	equal(t, "String", cfg.String(), want)
	equal(t, "GoString", cfg.GoString(), "ginidentity.Config"+want)
}

func TestConfigStringOmitsEmptySettings(t *testing.T) {
	equal(t, "zero Config", Config{}.String(), "{}")
	c := Config{AzureAd: AzureAdOptions{
		AllowWebAPIToBeAuthorizedByACL: true,
		Scopes:                         PermissionSet{Groups: map[string][]string{"Read": {"r"}}},
	}, DownstreamApis: map[string]DownstreamAPIOptions{"A": {AcquireTokenOptions: AcquireTokenOptions{ManagedIdentity: &ManagedIdentityOptions{}}}}}
	equal(t, "String", c.String(), "{AzureAd:{Scopes:{Read:[r]} AllowWebApiToBeAuthorizedByACL:true} DownstreamApis:{A:{AcquireTokenOptions:{ManagedIdentity:{}}}}}")
}
