package ginidentity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// maxConfigFileSize bounds what LoadConfig reads: an appsettings.json is a few kilobytes.
const maxConfigFileSize = 4 << 20

// maxEnvIndex bounds an array index in an environment variable's name, so that a typo cannot allocate a huge
// array.
const maxEnvIndex = 999

// configSections are the top-level sections the environment may override.
var configSections = []string{"AzureAd", "DownstreamApis", "MicrosoftGraph", "TokenCache", "Sessions"}

// LoadConfig reads the configuration file at path, applies the process environment over it and validates the
// result, returning every problem at once (errors.Join of *ConfigError). With path "" it reads the
// environment only; a path that cannot be read is an error naming it.
//
// The file is a Microsoft.Identity.Web appsettings.json: keys are case-insensitive, and // and /* */ comments
// and trailing commas are allowed. Environment variables override it with .NET's naming: AzureAd__ClientId,
// AzureAd__ClientCredentials__0__ClientSecret, DownstreamApis__TodoList__BaseUrl (':' also separates).
func LoadConfig(path string) (*Config, error) {
	return loadConfig(path, os.Environ())
}

func loadConfig(path string, env []string) (*Config, error) {
	if path == "" {
		return LoadConfigFrom("", nil, env)
	}
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	return LoadConfigFrom(path, data, env)
}

func readConfigFile(path string) ([]byte, error) {
	fail := func(problem string, err error) error {
		return &ConfigError{Source: path, Problem: problem,
			Fix: `check the path, or load with path "" to read the environment only`, Err: err}
	}
	f, err := os.Open(path)
	var data []byte
	if err == nil {
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	}
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fail("no such file", err)
	case errors.As(err, &pathErr):
		return nil, fail("cannot be read: "+pathErr.Err.Error(), err)
	case err != nil:
		return nil, fail("cannot be read: "+err.Error(), err)
	case len(data) > maxConfigFileSize:
		return nil, fail(fmt.Sprintf("is larger than %d MiB, which no appsettings.json is", maxConfigFileSize>>20), nil)
	}
	return data, nil
}

// LoadConfigFrom is LoadConfig for a file already read and an explicit environment (a list of "NAME=value",
// like os.Environ()). name is the file name used in error messages; data may be nil for no file.
func LoadConfigFrom(name string, data []byte, env []string) (*Config, error) {
	if name == "" {
		name = "appsettings.json"
	}
	root, errs := parseJSONC(name, data)
	if root == nil {
		return nil, errors.Join(errs...)
	}
	errs = append(errs, applyEnvironment(root, env)...)

	cfg := &Config{}
	b := &binder{sources: map[string]string{}, failed: map[string]bool{}}
	b.bind(root, reflect.ValueOf(cfg).Elem(), "")
	errs = append(errs, b.errs...)
	cfg.sources = b.sources

	// A value that could not be bound would be reported again by validation, as missing: report it once.
	for _, err := range flattenErrors(cfg.Validate()) {
		var ce *ConfigError
		if errors.As(err, &ce) && b.hasFailed(ce.Field) {
			continue
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// flattenErrors returns the errors joined in err.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// applyEnvironment sets every variable of env that names a key of one of the configSections over the tree.
func applyEnvironment(root *node, env []string) []error {
	var errs []error
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		segs := strings.Split(strings.ReplaceAll(name, "__", ":"), ":")
		if len(segs) < 2 || !slices.ContainsFunc(configSections, func(s string) bool { return strings.EqualFold(s, segs[0]) }) {
			continue
		}
		if err := root.set(segs, value, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// set sets the key named by segs to a string value from the environment variable envName, creating objects
// and arrays on the way and growing arrays to reach an index.
func (n *node) set(segs []string, value, envName string) error {
	src := "environment variable " + envName
	leaf := &node{kind: stringNode, text: value, src: src}
	cur, path := n, ""
	for i, seg := range segs {
		path = joinPath(path, seg)
		if seg == "" {
			return &ConfigError{Source: src, Field: path, Problem: "has an empty name segment",
				Fix: "separate the keys with a single __, like AzureAd__ClientId"}
		}
		var slot **node
		switch cur.kind {
		case arrayNode:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || idx > maxEnvIndex {
				return &ConfigError{Source: src, Field: strings.TrimSuffix(path, ":"+seg),
					Problem: "is an array", Fix: fmt.Sprintf("index it with a number from 0 to %d, like %s__0",
						maxEnvIndex, strings.Join(segs[:i], "__"))}
			}
			for len(cur.elems) <= idx {
				cur.elems = append(cur.elems, &node{})
			}
			slot = &cur.elems[idx]
		default: // objectNode: the root and every node made below are containers
			j := cur.lookup(seg)
			if j < 0 {
				cur.fields = append(cur.fields, field{key: seg, val: &node{}})
				j = len(cur.fields) - 1
			}
			slot = &cur.fields[j].val
		}
		if i == len(segs)-1 {
			*slot = leaf
			return nil
		}
		if k := (*slot).kind; k != objectNode && k != arrayNode {
			// A scalar (or nothing) where the name goes deeper: the environment wins.
			if _, err := strconv.Atoi(segs[i+1]); err == nil {
				*slot = &node{kind: arrayNode}
			} else {
				*slot = &node{kind: objectNode}
			}
		}
		cur = *slot
	}
	return nil
}

var (
	rawMapType       = reflect.TypeFor[map[string]json.RawMessage]()
	permissionSetTyp = reflect.TypeFor[PermissionSet]()
)

// binder sets Go values from the tree, matching keys to `json` tags case-insensitively, like .NET's
// configuration binder. Keys no field claims go to the struct's Extra field when it has one.
type binder struct {
	errs    []error
	failed  map[string]bool   // lower-case paths whose value had the wrong type
	sources map[string]string // lower-case path -> where the value came from
}

// hasFailed reports whether the value at path, or a section holding it, had the wrong type.
func (b *binder) hasFailed(path string) bool {
	p := strings.ToLower(path)
	for {
		if b.failed[p] {
			return true
		}
		i := strings.LastIndexByte(p, ':')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func (b *binder) typeError(n *node, path, want, fix string) {
	b.failed[strings.ToLower(path)] = true
	b.errs = append(b.errs, &ConfigError{Source: n.src, Field: path,
		Problem: fmt.Sprintf("must be %s, not %s", want, n.kind), Fix: fix})
}

func (b *binder) bind(n *node, v reflect.Value, path string) {
	if n.src != "" && path != "" {
		b.sources[strings.ToLower(path)] = n.src
	}
	if n.kind == nullNode {
		return
	}
	t := v.Type()
	switch {
	case t == permissionSetTyp:
		b.bindPermissions(n, v.Addr().Interface().(*PermissionSet), path)
	case t == rawMapType:
		if n.kind != objectNode {
			b.typeError(n, path, "an object", "")
			return
		}
		m := make(map[string]json.RawMessage, len(n.fields))
		for _, f := range n.fields {
			m[f.key] = f.val.appendJSON(nil)
		}
		v.Set(reflect.ValueOf(m))
	case t.Kind() == reflect.String:
		if n.kind != stringNode {
			b.typeError(n, path, "a string", "put the value in double quotes")
			return
		}
		v.SetString(n.text)
	case t.Kind() == reflect.Bool:
		switch {
		case n.kind == boolNode:
			v.SetBool(n.b)
		case n.kind == stringNode && (strings.EqualFold(n.text, "true") || strings.EqualFold(n.text, "false")):
			v.SetBool(strings.EqualFold(n.text, "true"))
		default:
			b.typeError(n, path, "true or false", "")
		}
	case t.Kind() == reflect.Int:
		// A number in the file, or a string of digits from the environment.
		if n.kind != numberNode && n.kind != stringNode {
			b.typeError(n, path, "a whole number", "write it like 64")
			return
		}
		i, err := strconv.ParseInt(strings.TrimSpace(n.text), 10, 0)
		if err != nil {
			b.failed[strings.ToLower(path)] = true
			b.errs = append(b.errs, &ConfigError{Source: n.src, Field: path,
				Problem: fmt.Sprintf("%q is not a whole number", n.text), Fix: "write it like 64"})
			return
		}
		v.SetInt(i)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		b.bind(n, v.Elem(), path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, ok := n.strings()
		if !ok {
			b.typeError(n, path, "an array of strings or one space-separated string", `write it like ["a", "b"]`)
			return
		}
		v.Set(reflect.ValueOf(list))
		if n.kind == arrayNode { // where each entry came from, for messages about one of them
			i := 0
			for _, e := range n.elems {
				if e.kind == stringNode {
					b.sources[strings.ToLower(joinPath(path, strconv.Itoa(i)))] = e.src
					i++
				}
			}
		}
	case t.Kind() == reflect.Slice:
		if n.kind != arrayNode {
			b.typeError(n, path, "an array", "write it like [ { ... } ]")
			return
		}
		s := reflect.MakeSlice(t, 0, len(n.elems))
		for _, e := range n.elems {
			if e.kind == nullNode {
				continue // a gap, as .NET's binder skips it
			}
			ev := reflect.New(t.Elem()).Elem()
			b.bind(e, ev, joinPath(path, strconv.Itoa(s.Len())))
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.kind != objectNode {
			b.typeError(n, path, "an object", "write it like { \"Name\": ... }")
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.fields))
		for _, f := range n.fields {
			ev := reflect.New(t.Elem()).Elem()
			b.bind(f.val, ev, joinPath(path, f.key))
			m.SetMapIndex(reflect.ValueOf(f.key), ev)
		}
		v.Set(m)
	case t.Kind() == reflect.Struct:
		if n.kind != objectNode {
			b.typeError(n, path, "an object", "write it like { \"Name\": ... }")
			return
		}
		extra := v.FieldByName("Extra")
		for _, f := range n.fields {
			if i := fieldByKey(t, f.key); i >= 0 {
				b.bind(f.val, v.Field(i), joinPath(path, jsonName(t.Field(i))))
			} else if extra.IsValid() && extra.Type() == rawMapType {
				if extra.IsNil() {
					extra.Set(reflect.MakeMap(rawMapType))
				}
				extra.SetMapIndex(reflect.ValueOf(f.key), reflect.ValueOf(json.RawMessage(f.val.appendJSON(nil))))
			}
		}
	}
}

func (b *binder) bindPermissions(n *node, p *PermissionSet, path string) {
	if n.kind == objectNode {
		p.Groups = make(map[string][]string, len(n.fields))
		for _, f := range n.fields {
			list, ok := f.val.strings()
			if !ok {
				b.typeError(f.val, joinPath(path, f.key), "an array of strings or one space-separated string",
					`write it like ["a", "b"]`)
				continue
			}
			p.Groups[f.key] = list
		}
		return
	}
	list, ok := n.strings()
	if !ok {
		b.typeError(n, path, "a string, an array of strings or an object of named arrays",
			`write it like "a b", ["a", "b"] or {"Read": ["a"], "Write": ["b"]}`)
		return
	}
	p.Values = list
}

// fieldByKey returns the index of the exported field of t whose JSON name is key, ignoring case, or -1.
func fieldByKey(t reflect.Type, key string) int {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Tag.Get("json") != "-" && strings.EqualFold(jsonName(f), key) {
			return i
		}
	}
	return -1
}

// jsonName is the configuration key of a struct field: its json tag's name, or its Go name.
func jsonName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
		return name
	}
	return f.Name
}
