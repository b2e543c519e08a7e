package gindownstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity"
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   []challenge
	}{
		{`Bearer`, []challenge{{"Bearer", map[string]string{}}}},
		{`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="`,
			[]challenge{{"Bearer", map[string]string{"realm": "", "authorization_uri": "https://login.microsoftonline.com/common/oauth2/authorize",
				"error": "insufficient_claims", "claims": "eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="}}}},
		{`Basic realm="x", Bearer error=insufficient_claims, claims="a\"b"`,
			[]challenge{{"Basic", map[string]string{"realm": "x"}}, {"Bearer", map[string]string{"error": "insufficient_claims", "claims": `a"b`}}}},
		{`Negotiate abc==, Bearer Error="x"`, []challenge{{"Negotiate", map[string]string{"": "abc=="}}, {"Bearer", map[string]string{"error": "x"}}}},
		{`Bearer error="unterminated`, []challenge{{"Bearer", map[string]string{}}}},
		{` , ,Bearer  a = "1" ,  b=2`, []challenge{{"Bearer", map[string]string{"a": "1", "b": "2"}}}},
		{`"garbage`, nil},
		{``, nil},
	} {
		if got := parseChallenges(tc.header); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.header, got, tc.want)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{`Bearer realm="", error="insufficient_claims", claims="e30="`, `Basic realm="a\"b", Bearer x`, `a=b c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ch := range parseChallenges(s) {
			if ch.scheme == "" {
				t.Fatalf("%q: a challenge without a scheme", s)
			}
		}
	})
}

func TestClaimsChallenge(t *testing.T) {
	resp := func(status int, headers ...string) *http.Response {
		h := http.Header{}
		for _, v := range headers {
			h.Add("WWW-Authenticate", v)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	for _, tc := range []struct {
		name string
		resp *http.Response
		want string
	}{
		{"Graph's CAE challenge", resp(401, `Bearer realm="", authorization_uri="https://x", error="insufficient_claims", claims="e30="`), "e30="},
		{"in the second header", resp(401, `Basic realm="x"`, `Bearer error="insufficient_claims", claims="e30="`), "e30="},
		{"another error", resp(401, `Bearer error="invalid_token", claims="e30="`), ""},
		{"no claims", resp(401, `Bearer error="insufficient_claims"`), ""},
		{"not a 401", resp(403, `Bearer error="insufficient_claims", claims="e30="`), ""},
		{"no header", resp(401), ""},
	} {
		if got := claimsChallenge(tc.resp); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// challengingAPI answers 401 with a claims challenge until a request carries the token minted after it.
func challengingAPI(t *testing.T) *recordingAPI {
	api := newRecordingAPI(t)
	api.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if !strings.HasSuffix(r.Header.Get("Authorization"), "#2") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
	return api
}

// numberedTokens answers token n as "tok#n", counting from 1.
func numberedTokens() *fakeTokens {
	return &fakeTokens{answer: func(n int, c tokenCall) (ginidentity.Token, error) {
		return ginidentity.Token{AccessToken: "tok#" + string(rune('1'+n))}, nil
	}}
}

// A claims challenge is answered once, with a new token asked with one more option (the claims), and the
// same body.
func TestClaimsChallengeRetriedOnce(t *testing.T) {
	api := challengingAPI(t)
	tokens := numberedTokens()
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: api.URL, Scopes: []string{"s"}}}, tokens)
	var out struct{ OK bool }
	if err := c.PostForUser(userContext("alice"), "API", map[string]int{"n": 1}, &out); err != nil || !out.OK {
		t.Fatalf("%v %+v", err, out)
	}
	got := api.requests()
	if len(got) != 2 || got[0].body != `{"n":1}` || got[1].body != `{"n":1}` || got[1].auth != "Bearer tok#2" {
		t.Fatalf("requests %+v", got)
	}
	if calls := tokens.recorded(); len(calls) != 2 || calls[0].options != 0 || calls[1].options != 1 {
		t.Fatalf("token calls %+v, want the second with the claims", calls)
	}

	// Once only: an API that challenges again gets its 401 back as an *APIError.
	api.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_claims", claims="e30="`)
		w.WriteHeader(http.StatusUnauthorized)
	}
	n := len(api.requests())
	err := c.GetForUser(userContext("alice"), "API", nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || len(api.requests()) != n+2 {
		t.Fatalf("%v after %d requests", err, len(api.requests())-n)
	}
}

// When the claims need the user (a web app's user must sign in again), the acquirer's error comes back.
func TestClaimsChallengeNeedsTheUser(t *testing.T) {
	api := challengingAPI(t)
	interaction := &ginidentity.InteractionRequiredError{Scopes: []string{"s"}, Claims: `{"access_token":{}}`, Reason: "a claims challenge"}
	tokens := &fakeTokens{answer: func(n int, c tokenCall) (ginidentity.Token, error) {
		if n == 0 {
			return ginidentity.Token{AccessToken: "tok#1"}, nil
		}
		return ginidentity.Token{}, interaction
	}}
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: api.URL, Scopes: []string{"s"}}}, tokens)
	err := c.GetForUser(userContext("alice"), "API", nil)
	var ie *ginidentity.InteractionRequiredError
	if !errors.As(err, &ie) || ie.Claims == "" {
		t.Fatalf("%v, want the InteractionRequiredError with the claims", err)
	}
}

// The *http.Client of HTTPClientForUser authorizes requests to the API's origin only, answers a claims
// challenge when the body can be sent again, and leaves the caller's request untouched.
func TestHTTPClient(t *testing.T) {
	api := challengingAPI(t)
	elsewhere := newRecordingAPI(t)
	tokens := numberedTokens()
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: api.URL + "/base", Scopes: []string{"s"}}}, tokens)
	if _, err := c.HTTPClientForUser(context.Background(), "API"); !errors.Is(err, ginidentity.ErrNoUser) {
		t.Fatalf("without a user: %v", err)
	}
	hc, err := c.HTTPClientForUser(userContext("alice"), "API")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", api.URL+"/other/path", strings.NewReader("body"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || req.Header.Get("Authorization") != "" {
		t.Fatalf("status %d; the caller's request got %q", resp.StatusCode, req.Header.Get("Authorization"))
	}
	if got := api.requests(); len(got) != 2 || got[1].body != "body" || got[1].auth != "Bearer tok#2" {
		t.Fatalf("requests %+v", got)
	}

	// Another origin gets no token, whatever the path.
	resp, err = hc.Get(elsewhere.URL + "/base")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := elsewhere.requests(); len(got) != 1 || got[0].auth != "" {
		t.Fatalf("another origin received %+v", got)
	}

	// A body that cannot be sent again: the 401 comes back as it is.
	req, _ = http.NewRequest("POST", api.URL+"/x", io.NopCloser(strings.NewReader("once")))
	if resp, err = hc.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want the 401", resp.StatusCode)
	}

	// A token that cannot be had is Do's error, found by errors.As.
	tokens.answer = func(int, tokenCall) (ginidentity.Token, error) {
		return ginidentity.Token{}, &ginidentity.InteractionRequiredError{Reason: "consent missing"}
	}
	_, err = hc.Get(api.URL)
	var ie *ginidentity.InteractionRequiredError
	var ue *url.Error
	if !errors.As(err, &ie) || !errors.As(err, &ue) {
		t.Fatalf("%v", err)
	}

	app, err := c.HTTPClientForApp("API", WithScopes("api://x/.default"))
	if err != nil {
		t.Fatal(err)
	}
	tokens.answer = nil
	resp, err = app.Get(elsewhere.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := elsewhere.requests(); len(got) != 2 || got[1].auth != "" {
		t.Fatalf("the app's token went elsewhere: %+v", got)
	}
}
