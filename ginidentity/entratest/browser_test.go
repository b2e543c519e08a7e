package entratest_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity/entratest"
	"golang.org/x/net/html"
)

// browser drives the emulator's pages as a user's browser would: it keeps cookies, trusts the emulator's CA
// and does not follow redirects, because a redirect to the client's redirect URI is the answer tests inspect.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T, e *entratest.Emulator) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := e.HTTPClient()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: c}
}

// page is one response from the emulator, its HTML parsed.
type page struct {
	t      *testing.T
	url    *url.URL
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) *page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &page{t: b.t, url: req.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.doc, err = html.Parse(strings.NewReader(p.body)); err != nil {
			b.t.Fatalf("parse page: %v", err)
		}
	}
	return p
}

// byID returns the element with the id, or nil.
func (p *page) byID(id string) *html.Node {
	var found *html.Node
	walk(p.doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
			return false
		}
		return true
	})
	return found
}

// text is the text content of the element with the id, "" when there is none.
func (p *page) text(id string) string {
	n := p.byID(id)
	if n == nil {
		return ""
	}
	var sb strings.Builder
	walk(n, func(c *html.Node) bool {
		if c.Type == html.TextNode {
			sb.WriteString(c.Data)
		}
		return true
	})
	return strings.TrimSpace(sb.String())
}

// htmlForm is a form of a page: where it posts and the values a browser would send.
type htmlForm struct {
	action  string
	method  string
	values  url.Values
	buttons map[string][2]string // button id -> name, value
}

// form returns the form with the id, failing the test when the page has none.
func (p *page) form(id string) *htmlForm {
	p.t.Helper()
	n := p.byID(id)
	if n == nil || n.Data != "form" {
		p.t.Fatalf("no form #%s on the page (status %d):\n%s", id, p.status, p.body)
	}
	action, err := p.url.Parse(attr(n, "action"))
	if err != nil {
		p.t.Fatalf("form #%s action: %v", id, err)
	}
	f := &htmlForm{action: action.String(), method: strings.ToUpper(attr(n, "method")), values: url.Values{}, buttons: map[string][2]string{}}
	walk(n, func(c *html.Node) bool {
		if c.Type != html.ElementNode {
			return true
		}
		switch c.Data {
		case "input":
			if name := attr(c, "name"); name != "" {
				f.values.Set(name, attr(c, "value"))
			}
		case "button":
			f.buttons[attr(c, "id")] = [2]string{attr(c, "name"), attr(c, "value")}
		}
		return true
	})
	return f
}

// submit posts the form as a browser does when the button with the id is clicked, with fields filled in.
func (b *browser) submit(f *htmlForm, buttonID string, fields map[string]string) *page {
	b.t.Helper()
	if f.method != http.MethodPost {
		b.t.Fatalf("form method %q, want POST", f.method)
	}
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range fields {
		v.Set(k, val)
	}
	btn, ok := f.buttons[buttonID]
	if !ok {
		b.t.Fatalf("form has no button #%s", buttonID)
	}
	if btn[0] != "" {
		v.Set(btn[0], btn[1])
	}
	return b.post(f.action, v)
}

// response is what the client's redirect URI receives: the redirect's query or fragment, or the fields of
// the form_post page.
func (p *page) response(redirectURI string) url.Values {
	p.t.Helper()
	if p.status == http.StatusFound {
		loc := p.header.Get("Location")
		if !strings.HasPrefix(loc, redirectURI) {
			p.t.Fatalf("redirected to %q, want %s", loc, redirectURI)
		}
		u, err := url.Parse(loc)
		if err != nil {
			p.t.Fatal(err)
		}
		if u.Fragment != "" {
			v, err := url.ParseQuery(u.Fragment)
			if err != nil {
				p.t.Fatal(err)
			}
			return v
		}
		return u.Query()
	}
	if p.status == http.StatusOK && p.byID("response") != nil {
		f := p.form("response")
		if f.action != redirectURI {
			p.t.Fatalf("form_post to %q, want %s", f.action, redirectURI)
		}
		return f.values
	}
	p.t.Fatalf("want a response to %s, got status %d:\n%s", redirectURI, p.status, p.body)
	return nil
}

func walk(n *html.Node, fn func(*html.Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}
