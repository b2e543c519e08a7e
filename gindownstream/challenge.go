package gindownstream

import (
	"net/http"
	"strings"
)

// claimsChallenge returns the claims of a 401 answer's claims challenge (continuous access evaluation,
// conditional access): WWW-Authenticate: Bearer ..., error="insufficient_claims", claims="<base64 JSON>".
// It returns "" for any other answer.
func claimsChallenge(resp *http.Response) string {
	if resp.StatusCode != http.StatusUnauthorized {
		return ""
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		for _, ch := range parseChallenges(v) {
			if strings.EqualFold(ch.scheme, "Bearer") && ch.params["error"] == "insufficient_claims" && ch.params["claims"] != "" {
				return ch.params["claims"]
			}
		}
	}
	return ""
}

// challenge is one challenge of a WWW-Authenticate header: a scheme and its parameters (names in lower case).
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses a WWW-Authenticate value as RFC 9110 section 11.6.1 defines it: challenges separated
// by commas, each an auth-scheme followed by comma-separated auth-params (name=token or name="quoted
// string") or a token68. What cannot be parsed ends the parse; the challenges read so far are returned.
func parseChallenges(v string) []challenge {
	var out []challenge
	p := &headerParser{s: v}
	for {
		p.skipSpaceAndCommas()
		scheme := p.token()
		if scheme == "" {
			return out
		}
		ch := challenge{scheme: scheme, params: map[string]string{}}
		for first := true; ; first = false {
			p.skipSpace()
			save := p.i
			if first { // a token68 stands alone after the scheme
				if t := p.token68(); t != "" {
					p.skipSpace()
					if p.i == len(p.s) || p.peek() == ',' {
						ch.params[""] = t
						break
					}
				}
				p.i = save
			}
			name := p.token()
			p.skipSpace()
			if name == "" || !p.consume('=') {
				p.i = save // the next challenge's scheme, or the end
				break
			}
			p.skipSpace()
			var value string
			if p.peek() == '"' {
				var ok bool
				if value, ok = p.quoted(); !ok {
					return append(out, ch)
				}
			} else {
				value = p.token()
			}
			ch.params[strings.ToLower(name)] = value
			p.skipSpace()
			if !p.consume(',') {
				break
			}
		}
		out = append(out, ch)
	}
}

type headerParser struct {
	s string
	i int
}

func (p *headerParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *headerParser) consume(c byte) bool {
	if p.peek() == c && p.i < len(p.s) {
		p.i++
		return true
	}
	return false
}

func (p *headerParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *headerParser) skipSpaceAndCommas() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// token reads an RFC 9110 token.
func (p *headerParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68 (base64-like credentials) and its trailing '='.
func (p *headerParser) token68() string {
	start := p.i
	for p.i < len(p.s) && (isAlnum(p.s[p.i]) || strings.IndexByte("-._~+/", p.s[p.i]) >= 0) {
		p.i++
	}
	if p.i == start {
		return ""
	}
	for p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string, unescaping quoted-pairs; ok is false when it is not closed.
func (p *headerParser) quoted() (string, bool) {
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isTokenChar(c byte) bool { return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 }
