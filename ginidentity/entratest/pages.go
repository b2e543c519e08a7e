package entratest

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

// The emulator's HTML pages: sign-in form, account picker, consent, form_post response, error and
// signed-out pages. They load nothing from elsewhere; their elements carry stable ids (#username,
// #password, #submit, #accept, #cancel, #use-account, #other-account, #error) for browser-driven tests.
//
//go:embed pages.html
var pagesFS embed.FS

var pages = template.Must(template.ParseFS(pagesFS, "pages.html"))

// pageData is what the pages show.
type pageData struct {
	Title       string
	Nonce       string // the CSP nonce of the page's inline style and script
	Error       string
	Flow        string // the sign-in in progress the page's form answers
	Action      string // where the page's form posts: the authorize path itself
	AppName     string
	Username    string
	Account     *User
	Permissions []string
	RedirectURI string
	Fields      []formField
}

type formField struct{ Name, Value string }

// page renders a page with headers that keep it from being framed, cached or leaking its URL.
func (e *Emulator) page(w http.ResponseWriter, status int, name string, d pageData) {
	d.Nonce = randomToken(16)
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		e.logf("page %s: %v", name, err)
		http.Error(w, "entratest: page "+name+" failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; script-src 'nonce-"+d.Nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
