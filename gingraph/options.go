package gingraph

import (
	"slices"

	"github.com/gin-identity/kit/ginidentity"
)

// Option changes the Graph client ForUser or ForApp returns.
type Option func(*clientOptions)

type clientOptions struct {
	scopes  []string
	acquire []ginidentity.AcquireOption
}

// WithScopes replaces the scopes of MicrosoftGraph:Scopes for this client's requests: delegated scopes
// such as "Mail.Read" for ForUser (incremental consent: the user may have to consent first), one
// "{resource}/.default" scope for ForApp.
func WithScopes(scopes ...string) Option {
	scopes = slices.Clone(scopes)
	return func(o *clientOptions) { o.scopes = scopes }
}

// WithAcquireOptions passes options to the TokenAcquirer for this client's tokens: ginidentity.WithTenant,
// WithForceRefresh, WithExtraQueryParameters.
func WithAcquireOptions(opts ...ginidentity.AcquireOption) Option {
	opts = slices.Clone(opts)
	return func(o *clientOptions) { o.acquire = append(o.acquire, opts...) }
}

func applyOptions(opts []Option) clientOptions {
	var o clientOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}
