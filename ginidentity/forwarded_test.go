package ginidentity

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOriginResolver(t *testing.T) {
	trusted, errs := newOriginResolver(true, []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	untrusting, errs := newOriginResolver(false, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		name       string
		resolver   originResolver
		remote     string
		tls        bool
		host       string
		headers    map[string][]string
		wantScheme string
		wantHost   string
	}{
		{name: "plain", resolver: untrusting, remote: "10.1.2.3:5555", host: "app.internal:8080",
			wantScheme: "http", wantHost: "app.internal:8080"},
		{name: "tls", resolver: untrusting, remote: "10.1.2.3:5555", tls: true, host: "app.contoso.com",
			wantScheme: "https", wantHost: "app.contoso.com"},
		{name: "headers ignored without trust", resolver: untrusting, remote: "10.1.2.3:5555", host: "app.internal:8080",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}},
			wantScheme: "http", wantHost: "app.internal:8080"},
		{name: "trusted proxy", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal:8080",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.contoso.com"}},
			wantScheme: "https", wantHost: "app.contoso.com"},
		{name: "trusted single address", resolver: trusted, remote: "192.168.1.7:40000", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.contoso.com:8443"}},
			wantScheme: "https", wantHost: "app.contoso.com:8443"},
		{name: "trusted v6 proxy", resolver: trusted, remote: "[fd00::1]:40000", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"[2001:db8::1]:443"}},
			wantScheme: "https", wantHost: "[2001:db8::1]:443"},
		{name: "untrusted peer", resolver: trusted, remote: "203.0.113.9:5555", host: "app.internal:8080",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}},
			wantScheme: "http", wantHost: "app.internal:8080"},
		{name: "nearest proxy's value wins", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Proto": {"http, https"}, "X-Forwarded-Host": {"evil.example, app.contoso.com"}},
			wantScheme: "https", wantHost: "app.contoso.com"},
		{name: "nearest proxy's value wins over lines", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Host": {"evil.example", "app.contoso.com"}},
			wantScheme: "http", wantHost: "app.contoso.com"},
		{name: "bad proto ignored", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Proto": {"javascript"}},
			wantScheme: "http", wantHost: "app.internal"},
		{name: "bad hosts ignored", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Host": {"evil.example/path"}},
			wantScheme: "http", wantHost: "app.internal"},
		{name: "userinfo ignored", resolver: trusted, remote: "10.1.2.3:5555", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Host": {"app.contoso.com@evil.example"}},
			wantScheme: "http", wantHost: "app.internal"},
		{name: "unparsable peer", resolver: trusted, remote: "@", host: "app.internal",
			headers:    map[string][]string{"X-Forwarded-Proto": {"https"}},
			wantScheme: "http", wantHost: "app.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/signin-oidc", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			scheme, host := tt.resolver.origin(r)
			if scheme != tt.wantScheme || host != tt.wantHost {
				t.Fatalf("origin = %s://%s, want %s://%s", scheme, host, tt.wantScheme, tt.wantHost)
			}
		})
	}
}

func TestOriginResolverOptions(t *testing.T) {
	tests := []struct {
		name    string
		trust   bool
		proxies []string
		want    string
	}{
		{"trust without proxies", true, nil, "TrustedProxies is empty"},
		{"proxies without trust", false, []string{"10.0.0.0/8"}, "TrustForwardedHeaders is false"},
		{"bad network", true, []string{"10.0.0.0/8", "proxy.internal"}, `TrustedProxies[1] "proxy.internal" is not a network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := newOriginResolver(tt.trust, tt.proxies)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("errors = %v, want one containing %q", errs, tt.want)
			}
		})
	}
}

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"app.contoso.com": true, "app.contoso.com:443": true, "localhost:5000": true, "[::1]:5000": true, "[::1]": true,
		"": false, "a/b": false, "a b": false, "a@b": false, "[::1": false, "[zz]": false, "a:b:c": false,
		"host:": false, "host:x": false, "[::1]x": false, ".evil": false, "-evil": false, "a\\b": false,
	} {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v, want %v", h, got, want)
		}
	}
}
