package ginidentity

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// msalHTTPClient is the HTTP client every MSAL client of the acquirer shares. The acquirer makes an MSAL
// client per call (see msalcache.go), and MSAL caches the tenant and instance discovery documents per client,
// so this client caches them instead, for a bounded time: a new MSAL client costs no request. It also adds
// the extra query parameters of the call to the token endpoint's URL.
type msalHTTPClient struct {
	next *http.Client
	ttl  time.Duration
	now  func() time.Time

	mu   sync.Mutex
	docs map[string]*discoveryDoc
}

// maxDiscoveryDocs bounds the cached documents: one per tenant and host the app talks to.
const maxDiscoveryDocs = 256

type discoveryDoc struct {
	ready   chan struct{} // closed when the fetch is done
	status  int
	header  http.Header
	body    []byte
	err     error
	expires time.Time
}

type extraQueryKey struct{}

// withExtraQuery makes the token requests of the context carry the parameters.
func withExtraQuery(ctx context.Context, params map[string]string) context.Context {
	if len(params) == 0 {
		return ctx
	}
	return context.WithValue(ctx, extraQueryKey{}, params)
}

// isDiscovery reports whether the request fetches a document MSAL discovers the authority with.
func isDiscovery(req *http.Request) bool {
	p := req.URL.Path
	return req.Method == http.MethodGet &&
		(strings.HasSuffix(p, "/.well-known/openid-configuration") || strings.HasSuffix(p, "/discovery/instance"))
}

// Do implements MSAL's HTTPClient.
func (c *msalHTTPClient) Do(req *http.Request) (*http.Response, error) {
	if params, ok := req.Context().Value(extraQueryKey{}).(map[string]string); ok && req.Method == http.MethodPost {
		req = req.Clone(req.Context())
		q := req.URL.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		req.URL.RawQuery = q.Encode()
	}
	if !isDiscovery(req) {
		return c.next.Do(req)
	}
	key := req.URL.String()
	c.mu.Lock()
	d, ok := c.docs[key]
	if !ok || !d.isFresh(c.now()) {
		d = &discoveryDoc{ready: make(chan struct{})}
		c.store(key, d)
		c.mu.Unlock()
		c.fetch(req, d)
	} else {
		c.mu.Unlock()
		select {
		case <-d.ready:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	if d.err != nil || d.status != http.StatusOK {
		c.forget(key, d) // a failure is not cached: the next request tries again
	}
	return d.response(req)
}

// CloseIdleConnections implements MSAL's HTTPClient.
func (c *msalHTTPClient) CloseIdleConnections() { c.next.CloseIdleConnections() }

func (c *msalHTTPClient) fetch(req *http.Request, d *discoveryDoc) {
	defer close(d.ready)
	resp, err := c.next.Do(req)
	if err != nil {
		d.err = err
		return
	}
	defer resp.Body.Close()
	d.body, d.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	d.status, d.header = resp.StatusCode, resp.Header.Clone()
	d.expires = c.now().Add(c.ttl)
}

// store adds a document, dropping expired ones and, when the cache is full, an arbitrary one. c.mu is held.
func (c *msalHTTPClient) store(key string, d *discoveryDoc) {
	if len(c.docs) >= maxDiscoveryDocs {
		now := c.now()
		for k, old := range c.docs {
			if !old.isPending() && !old.isFresh(now) {
				delete(c.docs, k)
			}
		}
		for k := range c.docs {
			if len(c.docs) < maxDiscoveryDocs {
				break
			}
			delete(c.docs, k)
		}
	}
	c.docs[key] = d
}

func (c *msalHTTPClient) forget(key string, d *discoveryDoc) {
	c.mu.Lock()
	if c.docs[key] == d {
		delete(c.docs, key)
	}
	c.mu.Unlock()
}

func (d *discoveryDoc) isPending() bool {
	select {
	case <-d.ready:
		return false
	default:
		return true
	}
}

// isFresh reports whether the document is being fetched or was fetched less than the TTL ago.
func (d *discoveryDoc) isFresh(now time.Time) bool { return d.isPending() || now.Before(d.expires) }

func (d *discoveryDoc) response(req *http.Request) (*http.Response, error) {
	if d.err != nil {
		return nil, fmt.Errorf("ginidentity: discovery: %w", d.err)
	}
	return &http.Response{Status: http.StatusText(d.status), StatusCode: d.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: d.header.Clone(), Body: io.NopCloser(bytes.NewReader(d.body)), ContentLength: int64(len(d.body)), Request: req}, nil
}
