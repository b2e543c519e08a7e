package entratest_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

// A test signs a user in the way a browser does: it opens the authorize URL, posts the sign-in form's
// username and password (with the form's hidden flow field) back to the same path, and reads the code from
// the redirect to the app. The emulator's session cookie then signs the same client in without the form.
func Example_signIn() {
	e, err := entratest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	jar, _ := cookiejar.New(nil)
	browser := e.HTTPClient()
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	endpoint := e.Authority(entratest.ContosoTenantID) + "/oauth2/v2.0/authorize"
	authorize := endpoint + "?" + url.Values{
		"client_id":     {entratest.WebAppClientID},
		"response_type": {"code"},
		"redirect_uri":  {"http://localhost:5000/signin-oidc"},
		"scope":         {"openid profile offline_access User.Read"},
		"state":         {"state-1"},
	}.Encode()

	page, err := browser.Get(authorize)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	flow := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindSubmatch(body)

	resp, err := browser.PostForm(endpoint, url.Values{
		"flow": {string(flow[1])}, "username": {entratest.Alice}, "password": {entratest.UserPassword},
	})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println(back.Host+back.Path, back.Query().Get("state"), back.Query().Get("code") != "")

	// Single sign-on: the second request is answered at once.
	resp, err = browser.Get(authorize)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location") != "")
	// Output:
	// localhost:5000/signin-oidc state-1 true
	// 302 true
}
