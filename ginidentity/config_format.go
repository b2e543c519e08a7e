package ginidentity

import (
	"log/slog"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// The configuration types print without their secrets, whatever the verb (%v, %+v, %s, %#v) or logger (slog):
// a field tagged secret:"true" prints as [redacted] when set, and a map of free-form values (Extra,
// ExtraQueryParameters, ExtraHeaderParameters) prints its keys only, since a header may hold an API key.
// Settings left empty are omitted.

const redacted = "[redacted]"

func (c Config) String() string                { return formatRedacted(c) }
func (c Config) GoString() string              { return "ginidentity.Config" + formatRedacted(c) }
func (c Config) LogValue() slog.Value          { return slog.StringValue(formatRedacted(c)) }
func (a AzureAdOptions) String() string        { return formatRedacted(a) }
func (a AzureAdOptions) GoString() string      { return "ginidentity.AzureAdOptions" + formatRedacted(a) }
func (a AzureAdOptions) LogValue() slog.Value  { return slog.StringValue(formatRedacted(a)) }
func (d CredentialDescription) String() string { return formatRedacted(d) }
func (d CredentialDescription) GoString() string {
	return "ginidentity.CredentialDescription" + formatRedacted(d)
}
func (d CredentialDescription) LogValue() slog.Value { return slog.StringValue(formatRedacted(d)) }
func (d DownstreamAPIOptions) String() string        { return formatRedacted(d) }
func (d DownstreamAPIOptions) GoString() string {
	return "ginidentity.DownstreamAPIOptions" + formatRedacted(d)
}
func (d DownstreamAPIOptions) LogValue() slog.Value { return slog.StringValue(formatRedacted(d)) }
func (o AcquireTokenOptions) String() string        { return formatRedacted(o) }
func (o AcquireTokenOptions) GoString() string {
	return "ginidentity.AcquireTokenOptions" + formatRedacted(o)
}
func (o AcquireTokenOptions) LogValue() slog.Value { return slog.StringValue(formatRedacted(o)) }
func (g MicrosoftGraphOptions) String() string     { return formatRedacted(g) }
func (g MicrosoftGraphOptions) GoString() string {
	return "ginidentity.MicrosoftGraphOptions" + formatRedacted(g)
}
func (g MicrosoftGraphOptions) LogValue() slog.Value { return slog.StringValue(formatRedacted(g)) }
func (t TokenCacheOptions) String() string           { return formatRedacted(t) }
func (t TokenCacheOptions) GoString() string {
	return "ginidentity.TokenCacheOptions" + formatRedacted(t)
}
func (t TokenCacheOptions) LogValue() slog.Value { return slog.StringValue(formatRedacted(t)) }
func (s SessionsOptions) String() string         { return formatRedacted(s) }
func (s SessionsOptions) GoString() string       { return "ginidentity.SessionsOptions" + formatRedacted(s) }
func (s SessionsOptions) LogValue() slog.Value   { return slog.StringValue(formatRedacted(s)) }

// String prints the plain list as [a b], the named groups as {Read:[a] Write:[b]}.
func (p PermissionSet) String() string { return formatRedacted(p) }

func formatRedacted(v any) string {
	var b strings.Builder
	writeRedacted(&b, reflect.ValueOf(v))
	return b.String()
}

func writeRedacted(b *strings.Builder, v reflect.Value) {
	t := v.Type()
	switch {
	case t == permissionSetTyp:
		p := v.Interface().(PermissionSet)
		if len(p.Values) > 0 || len(p.Groups) == 0 {
			writeRedacted(b, reflect.ValueOf(p.Values))
		}
		if len(p.Groups) > 0 {
			if len(p.Values) > 0 {
				b.WriteByte(' ')
			}
			writeRedacted(b, reflect.ValueOf(p.Groups))
		}
	case t.Kind() == reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := range t.NumField() {
			f, fv := t.Field(i), v.Field(i)
			if !f.IsExported() || fv.IsZero() {
				continue
			}
			if !first {
				b.WriteByte(' ')
			}
			first = false
			name := jsonName(f)
			if name == "-" {
				name = f.Name // Extra
			}
			b.WriteString(name + ":")
			switch f.Tag.Get("secret") {
			case "true":
				b.WriteString(redacted)
			case "url": // a URL whose credentials are secret
				b.WriteString(redactURL(fv.String()))
			default:
				writeRedacted(b, fv)
			}
		}
		b.WriteByte('}')
	case t.Kind() == reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		elem := t.Elem()
		showValues := elem.Kind() == reflect.Struct || (elem.Kind() == reflect.Slice && elem.Elem().Kind() == reflect.String)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k + ":")
			if showValues {
				writeRedacted(b, v.MapIndex(reflect.ValueOf(k)))
			} else {
				b.WriteString("...")
			}
		}
		b.WriteByte('}')
	case t.Kind() == reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeRedacted(b, v.Index(i))
		}
		b.WriteByte(']')
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
		} else {
			writeRedacted(b, v.Elem())
		}
	case t.Kind() == reflect.String:
		b.WriteString(v.String())
	case t.Kind() == reflect.Int:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case t.Kind() == reflect.Bool:
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	}
}
