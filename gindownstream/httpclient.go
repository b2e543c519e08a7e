package gindownstream

import (
	"context"
	"net/http"
)

// HTTPClientForUser returns an *http.Client for anything the other methods do not cover (streaming, other
// encodings, full control of the request): each request it sends to the origin of the entry's BaseUrl
// (scheme, host and port) gets the Authorization header with a token of the current user, the user of ctx's
// request, bound now; a request anywhere else gets no token. A 401 with a claims challenge is answered once
// as CallForUser does, when the request's body can be sent again (http.NewRequest with a bytes or strings
// reader). Errors of the token (*ginidentity.InteractionRequiredError, ginidentity.ErrNoUser) come back from
// Do wrapped in a *url.Error: errors.As finds them. The client shares Options.HTTPClient's transport.
func (c *Client) HTTPClientForUser(ctx context.Context, name string, opts ...Option) (*http.Client, error) {
	return c.httpClient(ctx, forUser, name, opts)
}

// HTTPClientForApp is HTTPClientForUser with tokens for the app itself.
func (c *Client) HTTPClientForApp(name string, opts ...Option) (*http.Client, error) {
	return c.httpClient(context.Background(), forApp, name, opts)
}

func (c *Client) httpClient(ctx context.Context, who principal, name string, opts []Option) (*http.Client, error) {
	a, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	z, err := c.authorizer(ctx, who, a, a.endpoint(opts))
	if err != nil {
		return nil, err
	}
	base := c.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := *c.http
	hc.Transport = &transport{base: base, z: z}
	return &hc, nil
}

// transport authorizes the requests of an HTTPClientFor method.
type transport struct {
	base http.RoundTripper
	z    *authorizer
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not modify the request it is given: send a copy.
	return t.z.do(req.Clone(req.Context()), t.base.RoundTrip)
}
