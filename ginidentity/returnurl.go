package ginidentity

import (
	"net/url"
	"strings"
)

// maxReturnURLLength bounds the returnUrl kept through a sign-in.
const maxReturnURLLength = 2048

// localReturnURL returns s when it is a path on this site that a redirect can safely go to, and "/"
// (with ok false) otherwise. It accepts a path beginning with a single "/" followed by anything but "/" or
// "\", with an optional query and fragment, and refuses:
//   - absolute URLs (https://evil.example), scheme-relative ones (//evil.example) and browser-normalized
//     variants of them (/\evil.example, \\evil.example);
//   - control characters, including the tab and newlines browsers strip before parsing, and backslashes,
//     which browsers read as slashes;
//   - the same shapes hidden behind percent-encoding (/%2F%2Fevil.example, /%5Cevil.example), decoded up to
//     three times, since a later component may decode what the browser would not;
//   - anything longer than 2048 bytes.
func localReturnURL(s string) (string, bool) {
	if !isLocalPath(s) {
		return "/", false
	}
	return s, true
}

func isLocalPath(s string) bool {
	if s == "" || len(s) > maxReturnURLLength {
		return false
	}
	cur := s
	for range 4 {
		if !localShape(cur) {
			return false
		}
		next, err := url.PathUnescape(cur)
		if err != nil {
			return false // a malformed escape is not something a redirect should carry
		}
		if next == cur {
			break
		}
		cur = next
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/")
}

// localShape checks one decoding level: a single leading slash, no second slash or backslash after it, no
// backslash or control character anywhere.
func localShape(s string) bool {
	if len(s) == 0 || s[0] != '/' {
		return false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	// Non-ASCII control characters (U+0080..U+009F) and the invalid UTF-8 a browser would replace.
	for _, r := range s {
		if (r >= 0x80 && r <= 0x9f) || r == '\uFFFD' {
			return false
		}
	}
	return true
}
