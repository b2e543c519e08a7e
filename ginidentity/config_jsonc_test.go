package ginidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestStripJSONC(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain JSON is untouched", `{"a": [1, 2], "b": {"c": "d"}}`, `{"a": [1, 2], "b": {"c": "d"}}`},
		{"line comment", "{\"a\": 1 // one\n}", "{\"a\": 1       \n}"},
		{"line comment at end of file", "{} // end", "{}       "},
		{"block comment keeps newlines", "{/* a\nb */\"a\": 1}", "{    \n    \"a\": 1}"},
		{"comment markers inside strings stay", `{"u": "https://x/*y*/", "v": "//z"}`, `{"u": "https://x/*y*/", "v": "//z"}`},
		{"escaped quote does not end a string", `{"a": "x\"//y"}`, `{"a": "x\"//y"}`},
		{"trailing comma in object", `{"a": 1,}`, `{"a": 1 }`},
		{"trailing comma in array", `[1, 2, ]`, `[1, 2  ]`},
		{"trailing comma before a comment", "{\"a\": [1,// c\n],}", "{\"a\": [1     \n] }"},
		{"trailing comma after a string and a block comment", `{"a": "x", /* c */ }`, `{"a": "x"          }`},
		{"a comma that follows no value is left to the parser", `[,]`, `[,]`},
		{"a comma after a colon is left to the parser", `{"a": ,}`, `{"a": ,}`},
		{"a doubled comma is left to the parser", `[1,,]`, `[1,,]`},
		{"byte order mark", "\xEF\xBB\xBF{}", "   {}"},
		{"a lone slash is left to the parser", `{"a": 1 / 2}`, `{"a": 1 / 2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stripJSONC([]byte(tt.in))
			if err != nil {
				t.Fatalf("stripJSONC(%q): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("stripJSONC(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStripJSONCUnterminatedComment(t *testing.T) {
	_, err := stripJSONC([]byte("{\n  /* open\n}"))
	var oe *offsetError
	if !errors.As(err, &oe) || oe.offset != 4 {
		t.Fatalf("err = %v, want an offsetError at offset 4", err)
	}
}

func TestPositions(t *testing.T) {
	data := []byte("ab\ncdé\n\nx")
	p := newPositions("f.json", data)
	for _, tt := range []struct {
		offset int
		want   string
	}{
		{0, "f.json:1:1"}, {2, "f.json:1:3"}, {3, "f.json:2:1"}, {5, "f.json:2:3"},
		{7, "f.json:2:4"}, // after the two-byte é: columns count characters
		{8, "f.json:3:1"}, {9, "f.json:4:1"}, {10, "f.json:4:2"}, {99, "f.json:4:2"},
	} {
		if got := p.at(tt.offset); got != tt.want {
			t.Errorf("at(%d) = %s, want %s", tt.offset, got, tt.want)
		}
	}
	bom := newPositions("b.json", []byte("\xEF\xBB\xBF{x"))
	if got := bom.at(4); got != "b.json:1:2" {
		t.Errorf("with a byte order mark, at(4) = %s, want b.json:1:2", got)
	}
}

func TestParseJSONCSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, in   string
		wantPrefix string // the position
		wantText   string
	}{
		{"missing comma between members", "{\n  \"a\": 1 // c\n  \"b\": 2\n}", "appsettings.json:3:3: ", "is a comma missing before it?"},
		{"missing comma between elements", "{\"a\": [\n  \"x\"\n  \"y\"]}", "appsettings.json:3:3: ", "is a comma missing before it?"},
		{"missing value", "{\n  \"a\": ,\n}", "appsettings.json:2:8: ", "invalid character ','"},
		{"bad literal", "{\"a\": tru}", "appsettings.json:1:10: ", "invalid character '}' in literal true"},
		{"single quotes", "{'a': 1}", "appsettings.json:1:2: ", "invalid character looking for beginning of object key string"},
		{"a quote inside a secret hides the next character", "{\"ClientSecret\": \"ab\"Zd\"}", "appsettings.json:1:22: ", "invalid character after object key:value pair"},
		{"a bad escape inside a secret hides the character", "{\"ClientSecret\": \"ab\\Zd\"}", "appsettings.json:1:22: ", "invalid character in string escape code"},
		{"unquoted key", "{\n\tClientId: \"x\"}", "appsettings.json:2:2: ", "looking for beginning of object key"},
		{"file ends early", "{\n  \"AzureAd\": {\n    \"ClientId\": \"x\"\n", "appsettings.json:4:1: ", "the file ends early"},
		{"unterminated comment", "{\n  \"a\": 1 /* oops\n}", "appsettings.json:2:10: ", "comment is not closed"},
		{"newline inside a string", "{\"a\": \"x\ny\"}", "appsettings.json:1:9: ", "in string literal"},
		{"text after the object", "{} x", "appsettings.json:1:4: ", "after top-level value"},
		{"not an object", "  [1, 2]", "appsettings.json:1:3: ", "must hold one JSON object"},
		{"a string", `"AzureAd"`, "appsettings.json:1:1: ", "must hold one JSON object"},
		{"position after a multi-byte character", "{\"é\": x}", "appsettings.json:1:7: ", "invalid character looking for beginning of value"},
		{"position after a byte order mark", "\xEF\xBB\xBF{,}", "appsettings.json:1:2: ", "invalid character ','"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, errs := parseJSONC("appsettings.json", []byte(tt.in))
			if root != nil || len(errs) != 1 {
				t.Fatalf("parseJSONC(%q) = %v, %v; want one error", tt.in, root, errs)
			}
			msg := errs[0].Error()
			if !strings.HasPrefix(msg, tt.wantPrefix) || !strings.Contains(msg, tt.wantText) {
				t.Errorf("error = %q\nwant prefix %q and text %q", msg, tt.wantPrefix, tt.wantText)
			}
			var ce *ConfigError
			if !errors.As(errs[0], &ce) || ce.Source == "" || ce.Field != "" {
				t.Errorf("error %#v is not a *ConfigError with a Source and no Field", errs[0])
			}
		})
	}
}

func TestParseJSONCTree(t *testing.T) {
	in := "\xEF\xBB\xBF// settings\n{\n  \"A\": {\"b\": [\"x\", 1.50, true, null, {}],},\n  \"n\": null,\n}\n"
	root, errs := parseJSONC("s.json", []byte(in))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if got := string(root.appendJSON(nil)); got != `{"A":{"b":["x",1.50,true,null,{}]},"n":null}` {
		t.Errorf("tree = %s", got)
	}
	a := root.fields[root.lookup("a")].val
	if a.src != "s.json:3:8" {
		t.Errorf("A's position = %s, want s.json:3:8", a.src)
	}
	b := a.fields[a.lookup("B")].val
	if b.src != "s.json:3:14" || b.elems[1].src != "s.json:3:20" || b.elems[4].src != "s.json:3:38" {
		t.Errorf("positions = %s %s %s", b.src, b.elems[1].src, b.elems[4].src)
	}
}

func TestParseJSONCEmptyFile(t *testing.T) {
	for _, in := range []string{"", "  \n", "// nothing here\n", "\xEF\xBB\xBF"} {
		root, errs := parseJSONC("e.json", []byte(in))
		if len(errs) != 0 || root == nil || root.kind != objectNode || len(root.fields) != 0 {
			t.Errorf("parseJSONC(%q) = %v, %v; want an empty object", in, root, errs)
		}
	}
}

func TestParseJSONCDuplicateKeys(t *testing.T) {
	in := "{\n  \"AzureAd\": {\n    \"ClientId\": \"a\",\n    \"clientid\": \"b\"\n  },\n  \"AZUREAD\": {}\n}"
	root, errs := parseJSONC("d.json", []byte(in))
	if root == nil || len(errs) != 2 {
		t.Fatalf("errors = %v, want 2", errs)
	}
	for i, want := range []string{
		`d.json:4:5: AzureAd:clientid appears twice (as "ClientId" and "clientid"; keys are case-insensitive): keep only one`,
		`d.json:6:3: AZUREAD appears twice (as "AzureAd" and "AZUREAD"; keys are case-insensitive): keep only one`,
	} {
		if errs[i].Error() != want {
			t.Errorf("error %d = %q\nwant %q", i, errs[i], want)
		}
	}
}

// FuzzStripJSONC checks that stripping never moves a byte: the output has the input's length and newlines, and
// strict JSON (which has neither comments nor trailing commas) comes out unchanged.
func FuzzStripJSONC(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, "{\"a\": [1,], // c\n}", `{"s": "/*\"*/"}`, "/* x", `[,]`, "\xEF\xBB\xBF{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := stripJSONC(data)
		if err != nil {
			var oe *offsetError
			if !errors.As(err, &oe) || oe.offset < 0 || oe.offset >= len(data) {
				t.Fatalf("error %v has no offset inside the input", err)
			}
			return
		}
		if len(out) != len(data) {
			t.Fatalf("length %d, want %d", len(out), len(data))
		}
		for i := range data {
			if (data[i] == '\n') != (out[i] == '\n') {
				t.Fatalf("newline moved at offset %d", i)
			}
		}
		if json.Valid(data) && !bytes.Equal(out, data) {
			t.Fatalf("valid JSON changed: %q -> %q", data, out)
		}
	})
}

// FuzzLoadConfigFrom checks that no input makes loading panic, and that a failure is always explained by
// ConfigErrors.
func FuzzLoadConfigFrom(f *testing.F) {
	for _, s := range []string{
		`{"AzureAd": {"ClientId": "00001111-aaaa-2222-bbbb-3333cccc4444", "TenantId": "common"}}`,
		`{"AzureAd": {"Scopes": {"Read": ["a"], "Write": "b c"}, "ClientCredentials": [{"SourceType": 6}]}}`,
		`{"DownstreamApis": {"x": {"BaseUrl": "http://localhost", "Scopes": "a"}}, "MicrosoftGraph": []}`,
		"{\"AzureAd\": {/* c */ \"Instance\": \"https://x/\",}}",
	} {
		f.Add([]byte(s), "AzureAd__ClientCredentials__0__ClientSecret=s")
	}
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		cfg, err := LoadConfigFrom("f.json", data, strings.Split(env, "\n"))
		if (cfg == nil) == (err == nil) {
			t.Fatalf("LoadConfigFrom = %v, %v: want exactly one of a config and an error", cfg, err)
		}
		for _, e := range flattenErrors(err) {
			var ce *ConfigError
			if !errors.As(e, &ce) {
				t.Fatalf("error %v is not a *ConfigError", e)
			}
		}
	})
}
