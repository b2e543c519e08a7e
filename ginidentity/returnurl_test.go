package ginidentity

import (
	"strings"
	"testing"
)

func TestLocalReturnURL(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/", true},
		{"/profile", true},
		{"/mail?folder=inbox&top=10", true},
		{"/a/b/c#section", true},
		{"/caf%C3%A9", true},
		{"/search?q=a%2Fb", true},
		{"/%2e%2e/profile", true},
		{"/ünïcode", true},

		{"", false},
		{"profile", false},
		{"//evil.example", false},
		{"//evil.example/path", false},
		{"///evil.example", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"\\/evil.example", false},
		{"/a\\b", false},
		{"https://evil.example", false},
		{"http://localhost/profile", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{" /profile", false},
		{"/%2F%2Fevil.example", false},
		{"/%2f%2fevil.example", false},
		{"/%5Cevil.example", false},
		{"/%5cevil.example", false},
		{"/%252F%252Fevil.example", false},
		{"/%25252F%25252Fevil.example", false},
		{"/\t/evil.example", false},
		{"/\n/evil.example", false},
		{"/\r\nSet-Cookie: x=y", false},
		{"/%0d%0aSet-Cookie:x=y", false},
		{"/%09/evil.example", false},
		{"/\x00", false},
		{"/\x7f", false},
		{"/\u0085", false},
		{"/%C2%85", false},
		{"/\xff", false},
		{"/%zz", false},
		{"/" + strings.Repeat("a", maxReturnURLLength), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := localReturnURL(tt.in)
			if ok != tt.want {
				t.Fatalf("localReturnURL(%q) ok = %v, want %v", tt.in, ok, tt.want)
			}
			if ok && got != tt.in {
				t.Fatalf("localReturnURL(%q) = %q, want it unchanged", tt.in, got)
			}
			if !ok && got != "/" {
				t.Fatalf("localReturnURL(%q) = %q, want / when refused", tt.in, got)
			}
		})
	}
}
