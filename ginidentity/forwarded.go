package ginidentity

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// originResolver finds the scheme and host the browser used to reach the app, from which the redirect URIs
// sent to Entra ID are built. Behind a reverse proxy that terminates TLS, the request the app sees is plain
// http to an internal host: the proxy's X-Forwarded-Proto and X-Forwarded-Host say what the browser used.
// Those headers are honoured only when trust is configured, and only on requests whose peer address is one
// of the trusted proxy networks; anyone else could forge them to send the sign-in response elsewhere.
type originResolver struct {
	trust   bool
	proxies []netip.Prefix
}

// newOriginResolver parses the trusted proxy networks: CIDR prefixes ("10.0.0.0/8") or single addresses.
func newOriginResolver(trust bool, proxies []string) (originResolver, []error) {
	r := originResolver{trust: trust}
	var errs []error
	for i, p := range proxies {
		p = strings.TrimSpace(p)
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, &webAppOptionError{fmt.Sprintf("TrustedProxies[%d]", i), fmt.Sprintf("%q is not a network", proxies[i]),
					"list CIDR prefixes such as 10.0.0.0/8 or single addresses such as 127.0.0.1"})
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		r.proxies = append(r.proxies, pfx.Masked())
	}
	switch {
	case trust && len(proxies) == 0:
		errs = append(errs, &webAppOptionError{"TrustedProxies", "is empty while TrustForwardedHeaders is set",
			"list the networks of the reverse proxies in front of the app (X-Forwarded-* from any other peer could be forged)"})
	case !trust && len(proxies) > 0:
		errs = append(errs, &webAppOptionError{"TrustForwardedHeaders", "is false while TrustedProxies is set",
			"set TrustForwardedHeaders to honour X-Forwarded-Proto and X-Forwarded-Host from those proxies, or remove TrustedProxies"})
	}
	return r, errs
}

// origin returns the scheme ("http" or "https") and host[:port] the browser used.
func (o originResolver) origin(r *http.Request) (scheme, host string) {
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if !o.trust || !o.fromTrustedProxy(r) {
		return scheme, host
	}
	if p := strings.ToLower(lastListValue(r.Header.Values("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	if h := lastListValue(r.Header.Values("X-Forwarded-Host")); validHost(h) {
		host = h
	}
	return scheme, host
}

func (o originResolver) fromTrustedProxy(r *http.Request) bool {
	hostPart, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		hostPart = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(hostPart)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range o.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// lastListValue is the right-most element of a comma-separated header, over all its lines: the one the
// proxy nearest to the app wrote. Elements further left came from farther away, possibly from the client.
func lastListValue(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		parts := strings.Split(lines[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			if v := strings.TrimSpace(parts[j]); v != "" {
				return v
			}
		}
	}
	return ""
}

// validHost accepts host, host:port, [v6] and [v6]:port made of the characters a host name may hold.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.:[]", c) >= 0
		if !ok {
			return false
		}
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil {
			return false
		}
		name, port = "", strings.TrimPrefix(h[end+1:], ":")
		if h[end+1:] != "" && !strings.HasPrefix(h[end+1:], ":") {
			return false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if strings.Contains(name, ":") || port == "" {
			return false
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return !strings.ContainsAny(name, "[]") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "-")
}
