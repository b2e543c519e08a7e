package gindownstream

import (
	"maps"
	"slices"

	"github.com/gin-identity/kit/ginidentity"
)

// Option changes one call (or the *http.Client of an HTTPClientFor method): an override of its
// DownstreamApis entry, or options of its token.
type Option func(*callOptions)

type callOptions struct {
	edits   []func(*ginidentity.DownstreamAPIOptions)
	acquire []ginidentity.AcquireOption
}

// WithRelativePath replaces the entry's RelativePath for this call: the path under BaseUrl, such as
// "api/todolist/42".
func WithRelativePath(path string) Option {
	return edit(func(o *ginidentity.DownstreamAPIOptions) { o.RelativePath = path })
}

// WithMethod replaces the entry's HttpMethod, for CallForUser, CallForApp and Call (the Get, Post, Put,
// Patch and Delete methods keep their own).
func WithMethod(method string) Option {
	return edit(func(o *ginidentity.DownstreamAPIOptions) { o.HTTPMethod = method })
}

// WithScopes replaces the entry's Scopes for this call: delegated scopes for a user token, one
// "{resource}/.default" scope for an app token.
func WithScopes(scopes ...string) Option {
	scopes = slices.Clone(scopes)
	return edit(func(o *ginidentity.DownstreamAPIOptions) { o.Scopes = scopes })
}

// WithHeader sets a request header for this call, after the entry's ExtraHeaderParameters. The
// Authorization header is the token's: it cannot be set this way.
func WithHeader(name, value string) Option {
	return edit(func(o *ginidentity.DownstreamAPIOptions) {
		if o.ExtraHeaderParameters == nil {
			o.ExtraHeaderParameters = map[string]string{}
		}
		o.ExtraHeaderParameters[name] = value
	})
}

// WithQuery sets a query parameter for this call, after the entry's ExtraQueryParameters.
func WithQuery(name, value string) Option {
	return edit(func(o *ginidentity.DownstreamAPIOptions) {
		if o.ExtraQueryParameters == nil {
			o.ExtraQueryParameters = map[string]string{}
		}
		o.ExtraQueryParameters[name] = value
	})
}

// WithOverride changes anything of the entry for this call, as Microsoft.Identity.Web's
// downstreamApiOptionsOverride does: f receives a copy of the entry, with its own maps and slices.
func WithOverride(f func(*ginidentity.DownstreamAPIOptions)) Option {
	return edit(f)
}

// WithAcquireOptions passes options to the TokenAcquirer for this call's token, after those of the entry's
// AcquireTokenOptions: ginidentity.WithTenant, WithForceRefresh, WithExtraQueryParameters.
func WithAcquireOptions(opts ...ginidentity.AcquireOption) Option {
	opts = slices.Clone(opts)
	return func(c *callOptions) { c.acquire = append(c.acquire, opts...) }
}

func edit(f func(*ginidentity.DownstreamAPIOptions)) Option {
	return func(c *callOptions) {
		if f != nil {
			c.edits = append(c.edits, f)
		}
	}
}

// applyOptions applies the options to o, a copy of the entry: its maps and slices are copied first when an
// option edits it, so that the configuration shared by every call never changes.
func applyOptions(o *ginidentity.DownstreamAPIOptions, opts []Option) callOptions {
	var co callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&co)
		}
	}
	if len(co.edits) == 0 {
		return co
	}
	o.Scopes = slices.Clone(o.Scopes)
	o.ExtraHeaderParameters = maps.Clone(o.ExtraHeaderParameters)
	o.ExtraQueryParameters = maps.Clone(o.ExtraQueryParameters)
	o.Extra = maps.Clone(o.Extra)
	a := &o.AcquireTokenOptions
	a.ExtraQueryParameters = maps.Clone(a.ExtraQueryParameters)
	a.ExtraHeadersParameters = maps.Clone(a.ExtraHeadersParameters)
	a.Extra = maps.Clone(a.Extra)
	if a.ManagedIdentity != nil {
		mi := *a.ManagedIdentity
		a.ManagedIdentity = &mi
	}
	for _, f := range co.edits {
		f(o)
	}
	return co
}
