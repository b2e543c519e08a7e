package gindownstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-identity/kit/ginidentity"
)

// TokenAcquirer gets the access tokens for the calls. *ginidentity.TokenAcquirer is the one to use; tests may
// pass their own.
type TokenAcquirer interface {
	// TokenForUser gets a token for the user of the request ctx belongs to: on behalf of a web API's caller,
	// or for a web app's signed-in user.
	TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
	// TokenForApp gets a token for the app itself, for a resource's /.default scope.
	TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
}

var _ TokenAcquirer = (*ginidentity.TokenAcquirer)(nil)

// Defaults of Options.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 10 << 20
	// maxErrorBodyBytes bounds the body an *APIError keeps.
	maxErrorBodyBytes = 64 << 10
)

// Options configures New. A nil *Options, like every zero field, means the defaults.
type Options struct {
	// HTTPClient sends the calls. nil means a client with a 30 second timeout over http.DefaultTransport.
	// Its Transport is used as is; the *http.Client the HTTPClientFor methods return wraps it.
	HTTPClient *http.Client
	// MaxResponseBytes bounds a response body decoded into the out argument of a call (default 10 MiB):
	// a larger body is an error, never a huge allocation.
	MaxResponseBytes int64
}

// Client calls the web APIs of the DownstreamApis configuration section for the current user or for the app,
// with a token from a TokenAcquirer in the Authorization header of each call. It is safe for concurrent
// use; build one at start and share it.
type Client struct {
	apis     map[string]*api // by name as configured, and by lower-case name
	names    []string        // as configured, sorted, for messages
	tokens   TokenAcquirer
	http     *http.Client
	maxBytes int64
}

// api is one DownstreamApis entry, checked and prepared once.
type api struct {
	name   string
	opts   ginidentity.DownstreamAPIOptions
	origin origin   // of BaseUrl: the only origin its token is sent to
	entry  endpoint // the entry as configured, for the calls without options
	last   atomic.Pointer[authHeader]
}

// endpoint is what a call needs of an entry (as configured, or changed by a call's options), computed once.
type endpoint struct {
	opts    *ginidentity.DownstreamAPIOptions // read only
	url     string
	urlErr  error
	acquire []ginidentity.AcquireOption
}

func newEndpoint(o *ginidentity.DownstreamAPIOptions, extra []ginidentity.AcquireOption) endpoint {
	u, err := requestURL(o)
	return endpoint{opts: o, url: u, urlErr: err, acquire: acquireOptions(o.AcquireTokenOptions, extra)}
}

// endpoint returns the entry changed by the options, or the entry as configured when there are none.
func (a *api) endpoint(opts []Option) *endpoint {
	if len(opts) == 0 {
		return &a.entry
	}
	o := a.opts
	co := applyOptions(&o, opts)
	ep := newEndpoint(&o, co.acquire)
	return &ep
}

// New prepares the DownstreamApis section of cfg (applying its defaults, see ginidentity.Config.Validate)
// for calls with tokens from tokens. It returns every problem of the configuration at once.
func New(cfg *ginidentity.Config, tokens TokenAcquirer, opts *Options) (*Client, error) {
	var errs []error
	if cfg == nil {
		errs = append(errs, errors.New("gindownstream: New: the configuration is nil: load it with ginidentity.LoadConfig"))
	}
	if tokens == nil {
		errs = append(errs, errors.New("gindownstream: New: the TokenAcquirer is nil: pass the app's *ginidentity.TokenAcquirer (ginidentity.NewTokenAcquirer)"))
	}
	if opts == nil {
		opts = &Options{}
	}
	if opts.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("gindownstream: Options.MaxResponseBytes is negative: use a positive bound, or 0 for the default"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gindownstream: New: %w", err)
	}
	c := &Client{apis: map[string]*api{}, tokens: tokens, http: opts.HTTPClient, maxBytes: opts.MaxResponseBytes}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	for name, o := range cfg.DownstreamApis {
		u, _ := url.Parse(o.BaseURL) // Validate checked it
		a := &api{name: name, opts: o, origin: origin{scheme: u.Scheme, host: u.Host}}
		a.entry = newEndpoint(&a.opts, nil)
		c.apis[name], c.apis[strings.ToLower(name)] = a, a
		c.names = append(c.names, name)
	}
	slices.Sort(c.names)
	return c, nil
}

// origin is the scheme and host (with the port) of a URL.
type origin struct{ scheme, host string }

// of reports whether u is on this origin (RFC 6454: scheme, host and port; compared case-insensitively).
func (o origin) of(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, o.scheme) && strings.EqualFold(u.Host, o.host)
}

// lookup finds the DownstreamApis entry, its name matched case-insensitively as .NET configuration keys are.
func (c *Client) lookup(name string) (*api, error) {
	if a, ok := c.apis[name]; ok {
		return a, nil
	}
	if a, ok := c.apis[strings.ToLower(name)]; ok {
		return a, nil
	}
	known := "the section is empty"
	if len(c.names) > 0 {
		known = "it has " + strings.Join(c.names, ", ")
	}
	return nil, &unknownAPIError{name: name, known: known}
}

// CallForUser calls the API named name in DownstreamApis for the current user, with the entry's HttpMethod
// (or WithMethod's): ctx is the request's (a *gin.Context or its Request.Context()); the token is acquired
// on behalf of a web API's caller, or for a web app's signed-in user. in, when not nil, is sent as the JSON
// body ([]byte and json.RawMessage as they are); the answer is decoded as JSON into out, when not nil (a
// *[]byte receives the raw body).
//
// A 401 with a claims challenge (error="insufficient_claims") is retried once with a token carrying the
// claims. When the user must act (sign in again, consent), the error wraps the acquirer's
// *ginidentity.InteractionRequiredError; with no user in ctx it wraps ginidentity.ErrNoUser; an answer
// other than 2xx is an *APIError.
func (c *Client) CallForUser(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, "", in, out, opts)
}

// CallForApp is CallForUser with a token for the app itself (client credentials), for the entry's single
// "{resource}/.default" scope.
func (c *Client) CallForApp(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, "", in, out, opts)
}

// Call is CallForApp when the entry (or WithOverride) sets RequestAppToken, CallForUser otherwise.
func (c *Client) Call(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, byConfig, name, "", in, out, opts)
}

// GetForUser sends a GET for the current user and decodes the JSON answer into out (see CallForUser).
func (c *Client) GetForUser(ctx context.Context, name string, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, http.MethodGet, nil, out, opts)
}

// GetForApp sends a GET for the app and decodes the JSON answer into out (see CallForApp).
func (c *Client) GetForApp(ctx context.Context, name string, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, http.MethodGet, nil, out, opts)
}

// PostForUser sends in as JSON in a POST for the current user and decodes the answer into out.
func (c *Client) PostForUser(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, http.MethodPost, in, out, opts)
}

// PostForApp sends in as JSON in a POST for the app and decodes the answer into out.
func (c *Client) PostForApp(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, http.MethodPost, in, out, opts)
}

// PutForUser sends in as JSON in a PUT for the current user and decodes the answer into out.
func (c *Client) PutForUser(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, http.MethodPut, in, out, opts)
}

// PutForApp sends in as JSON in a PUT for the app and decodes the answer into out.
func (c *Client) PutForApp(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, http.MethodPut, in, out, opts)
}

// PatchForUser sends in as JSON in a PATCH for the current user and decodes the answer into out.
func (c *Client) PatchForUser(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, http.MethodPatch, in, out, opts)
}

// PatchForApp sends in as JSON in a PATCH for the app and decodes the answer into out.
func (c *Client) PatchForApp(ctx context.Context, name string, in, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, http.MethodPatch, in, out, opts)
}

// DeleteForUser sends a DELETE for the current user and decodes the answer, if any, into out.
func (c *Client) DeleteForUser(ctx context.Context, name string, out any, opts ...Option) error {
	return c.call(ctx, forUser, name, http.MethodDelete, nil, out, opts)
}

// DeleteForApp sends a DELETE for the app and decodes the answer, if any, into out.
func (c *Client) DeleteForApp(ctx context.Context, name string, out any, opts ...Option) error {
	return c.call(ctx, forApp, name, http.MethodDelete, nil, out, opts)
}

// call is every Call, Get, Post, Put, Patch and Delete method: method "" means the entry's.
func (c *Client) call(ctx context.Context, who principal, name, method string, in, out any, opts []Option) error {
	a, err := c.lookup(name)
	if err != nil {
		return err
	}
	ep := a.endpoint(opts)
	if ep.urlErr != nil {
		return fmt.Errorf("gindownstream: %s: %w", a.name, ep.urlErr)
	}
	o := ep.opts
	if method == "" {
		method = o.HTTPMethod
	}
	body, err := encodeBody(in)
	if err != nil {
		return fmt.Errorf("gindownstream: %s: encode the request body: %w", a.name, err)
	}
	auth, err := c.authorizer(ctx, who, a, ep)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // replayable: a claims challenge is answered by sending it again
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.url, rd)
	if err != nil {
		return fmt.Errorf("gindownstream: %s: %w", a.name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", o.ContentType)
	}
	if o.AcceptHeader != "" {
		req.Header.Set("Accept", o.AcceptHeader)
	}
	for k, v := range o.ExtraHeaderParameters {
		req.Header.Set(k, v)
	}
	resp, err := auth.do(req, c.http.Do)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(a.name, resp)
	}
	return c.decode(a.name, resp, out)
}

// encodeBody serializes a call's input: nil for none, []byte and json.RawMessage as they are, anything else
// as JSON.
func encodeBody(in any) ([]byte, error) {
	switch v := in.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	}
	return json.Marshal(in)
}

// requestURL is BaseUrl joined with RelativePath, with ExtraQueryParameters added.
func requestURL(o *ginidentity.DownstreamAPIOptions) (string, error) {
	raw := o.URL()
	if len(o.ExtraQueryParameters) == 0 {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("the URL %q is invalid: check BaseUrl and RelativePath: %w", raw, err)
	}
	q := u.Query()
	for k, v := range o.ExtraQueryParameters {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// decode reads a 2xx answer into out.
func (c *Client) decode(name string, resp *http.Response, out any) error {
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBytes))
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return fmt.Errorf("gindownstream: %s: read the answer: %w", name, err)
	}
	if int64(len(data)) > c.maxBytes {
		return fmt.Errorf("gindownstream: %s: the answer is larger than %d bytes: raise Options.MaxResponseBytes, or use HTTPClientForUser to stream it", name, c.maxBytes)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if len(data) == 0 || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("gindownstream: %s: the answer (%s) is not the JSON expected: %w", name, resp.Header.Get("Content-Type"), err)
	}
	return nil
}
