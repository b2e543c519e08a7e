package gindownstream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
)

func init() { gin.SetMode(gin.TestMode) }

// fakeTokens is a TokenAcquirer that records what it is asked and answers from a function.
type fakeTokens struct {
	mu    sync.Mutex
	calls []tokenCall
	// answer returns the n-th call's token (n from 0); nil: "app-token" or "user-token:<oid>".
	answer func(n int, c tokenCall) (ginidentity.Token, error)
}

type tokenCall struct {
	app     bool
	scopes  []string
	user    string // the oid of the claims in the context
	options int
}

func (f *fakeTokens) record(c tokenCall) (ginidentity.Token, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, c)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(n, c)
	}
	if c.app {
		return ginidentity.Token{AccessToken: "app-token"}, nil
	}
	return ginidentity.Token{AccessToken: "user-token:" + c.user}, nil
}

func (f *fakeTokens) TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	cl, ok := ginidentity.ClaimsFromContext(ctx)
	if !ok {
		return ginidentity.Token{}, ginidentity.ErrNoUser
	}
	return f.record(tokenCall{scopes: scopes, user: cl.ObjectID(), options: len(opts)})
}

func (f *fakeTokens) TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error) {
	return f.record(tokenCall{app: true, scopes: []string{scope}, options: len(opts)})
}

func (f *fakeTokens) recorded() []tokenCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenCall(nil), f.calls...)
}

// seen is a request as the API under test received it.
type seen struct {
	method, path, query, auth, accept, contentType, body string
	header                                               http.Header
}

// recordingAPI is a downstream API that records each request and answers with respond (200 {"ok":true} by default).
type recordingAPI struct {
	*httptest.Server
	mu      sync.Mutex
	got     []seen
	respond func(w http.ResponseWriter, r *http.Request, n int)
}

func newRecordingAPI(t *testing.T) *recordingAPI {
	api := &recordingAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		n := len(api.got)
		api.got = append(api.got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Accept"),
			r.Header.Get("Content-Type"), string(body), r.Header.Clone()})
		respond := api.respond
		api.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)
	return api
}

func (a *recordingAPI) requests() []seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seen(nil), a.got...)
}

func newClient(t *testing.T, apis map[string]ginidentity.DownstreamAPIOptions, tokens TokenAcquirer) *Client {
	t.Helper()
	c, err := New(&ginidentity.Config{DownstreamApis: apis}, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// userContext is a request context with a user, as the bearer or sign-in middleware leaves it.
func userContext(oid string) context.Context {
	return ginidentity.WithClaims(context.Background(), ginidentity.NewClaims(map[string]any{"oid": oid, "tid": "t"}, ""))
}

func TestCallsForTheUserAndTheApp(t *testing.T) {
	api := newRecordingAPI(t)
	tokens := &fakeTokens{}
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{
		"TodoList": {BaseURL: api.URL + "/", RelativePath: "/api/todolist", Scopes: []string{"api://x/ToDoList.Read"},
			ExtraHeaderParameters: map[string]string{"X-Entry": "1"}, ExtraQueryParameters: map[string]string{"entry": "1"}},
		"TodoListApp": {BaseURL: api.URL, RelativePath: "api/todolist", Scopes: []string{"api://x/.default"}, RequestAppToken: true},
	}, tokens)
	ctx := userContext("alice")

	var out struct{ OK bool }
	if err := c.GetForUser(ctx, "todolist", &out); err != nil || !out.OK {
		t.Fatalf("GetForUser: %v %+v", err, out)
	}
	if err := c.PostForUser(ctx, "TodoList", map[string]string{"title": "milk"}, &out, WithScopes("api://x/ToDoList.ReadWrite")); err != nil {
		t.Fatal(err)
	}
	if err := c.PutForApp(ctx, "TodoListApp", json.RawMessage(`{"title":"raw"}`), nil, WithRelativePath("api/todolist/7")); err != nil {
		t.Fatal(err)
	}
	if err := c.PatchForUser(ctx, "TodoList", []byte(`{"a":1}`), nil, WithQuery("q", "v"), WithHeader("X-Call", "2")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteForApp(context.Background(), "TodoListApp", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CallForUser(ctx, "TodoList", nil, nil, WithMethod("HEAD")); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(context.Background(), "TodoListApp", nil, nil); err != nil { // RequestAppToken: as the app
		t.Fatal(err)
	}
	if err := c.GetForApp(ctx, "TodoList", nil, WithScopes("api://x/.default")); err != nil {
		t.Fatal(err)
	}

	want := []seen{
		{method: "GET", path: "/api/todolist", query: "entry=1", auth: "Bearer user-token:alice", accept: "application/json"},
		{method: "POST", path: "/api/todolist", query: "entry=1", auth: "Bearer user-token:alice", accept: "application/json", contentType: "application/json", body: `{"title":"milk"}`},
		{method: "PUT", path: "/api/todolist/7", auth: "Bearer app-token", accept: "application/json", contentType: "application/json", body: `{"title":"raw"}`},
		{method: "PATCH", path: "/api/todolist", query: "entry=1&q=v", auth: "Bearer user-token:alice", accept: "application/json", contentType: "application/json", body: `{"a":1}`},
		{method: "DELETE", path: "/api/todolist", auth: "Bearer app-token", accept: "application/json"},
		{method: "HEAD", path: "/api/todolist", query: "entry=1", auth: "Bearer user-token:alice", accept: "application/json"},
		{method: "GET", path: "/api/todolist", auth: "Bearer app-token", accept: "application/json"},
		{method: "GET", path: "/api/todolist", query: "entry=1", auth: "Bearer app-token", accept: "application/json"},
	}
	got := api.requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		h := g.header
		g.header = nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, g, w)
		}
		if (i == 0 || i == 1 || i == 3 || i == 5 || i == 7) != (h.Get("X-Entry") == "1") {
			t.Errorf("request %d: X-Entry %q", i, h.Get("X-Entry"))
		}
		if (i == 3) != (h.Get("X-Call") == "2") {
			t.Errorf("request %d: X-Call %q", i, h.Get("X-Call"))
		}
	}
	calls := tokens.recorded()
	wantScopes := []string{"api://x/ToDoList.Read", "api://x/ToDoList.ReadWrite", "api://x/.default", "api://x/ToDoList.Read",
		"api://x/.default", "api://x/ToDoList.Read", "api://x/.default", "api://x/.default"}
	for i, call := range calls {
		if strings.Join(call.scopes, " ") != wantScopes[i] {
			t.Errorf("token %d for %q, want %q", i, call.scopes, wantScopes[i])
		}
	}
	// The overrides changed nothing for the next call.
	if err := c.GetForUser(ctx, "TodoList", nil); err != nil {
		t.Fatal(err)
	}
	last := api.requests()[len(want)]
	if last.path != "/api/todolist" || last.query != "entry=1" || last.header.Get("X-Call") != "" ||
		strings.Join(tokens.recorded()[len(want)].scopes, " ") != "api://x/ToDoList.Read" {
		t.Errorf("a call after overrides: %+v", last)
	}
}

// A handler passes its *gin.Context (or a context derived from it): the user the middleware attached to the
// request is the one the token is for, though gin.Context.Value does not reach the request's context.
func TestGinContext(t *testing.T) {
	api := newRecordingAPI(t)
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: api.URL, Scopes: []string{"s"}}}, &fakeTokens{})
	r := gin.New()
	r.Use(func(g *gin.Context) { // as the sign-in and bearer middleware do
		cl := ginidentity.NewClaims(map[string]any{"oid": "bob", "tid": "t"}, "")
		g.Request = g.Request.WithContext(ginidentity.WithClaims(g.Request.Context(), cl))
	})
	var handlerErr error
	r.GET("/", func(g *gin.Context) {
		if _, ok := ginidentity.ClaimsFromContext(g); ok {
			t.Error("the gin context answers the claims key itself: the test proves nothing")
		}
		ctx, cancel := context.WithCancel(g)
		defer cancel()
		handlerErr = c.GetForUser(ctx, "API", nil)
	})
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if handlerErr != nil {
		t.Fatal(handlerErr)
	}
	if got := api.requests(); len(got) != 1 || got[0].auth != "Bearer user-token:bob" {
		t.Fatalf("requests %+v", got)
	}
}

func TestErrors(t *testing.T) {
	api := newRecordingAPI(t)
	api.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"error":"conflict", "echo": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}`)
	}
	tokens := &fakeTokens{}
	c := newClient(t, map[string]ginidentity.DownstreamAPIOptions{
		"API":    {BaseURL: api.URL, Scopes: []string{"s"}},
		"AppAPI": {BaseURL: api.URL, Scopes: []string{"api://x/Read"}},
	}, tokens)
	ctx := userContext("alice")

	t.Run("unknown API", func(t *testing.T) {
		err := c.GetForUser(ctx, "Missing", nil)
		if !errors.Is(err, ErrUnknownAPI) || !strings.Contains(err.Error(), `DownstreamApis section has no entry "Missing"`) ||
			!strings.Contains(err.Error(), "DownstreamApis__Missing__BaseUrl") || !strings.Contains(err.Error(), "it has API, AppAPI") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no user", func(t *testing.T) {
		err := c.GetForUser(context.Background(), "API", nil)
		if !errors.Is(err, ginidentity.ErrNoUser) {
			t.Fatalf("%v, want ErrNoUser", err)
		}
	})
	t.Run("app token for delegated scopes", func(t *testing.T) {
		err := c.GetForApp(ctx, "AppAPI", nil)
		if err == nil || !strings.Contains(err.Error(), "/.default") || !strings.Contains(err.Error(), "DownstreamApis:AppAPI:Scopes") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the user must act", func(t *testing.T) {
		interaction := &ginidentity.InteractionRequiredError{Scopes: []string{"s"}, Reason: "consent missing"}
		tokens.answer = func(int, tokenCall) (ginidentity.Token, error) { return ginidentity.Token{}, interaction }
		defer func() { tokens.answer = nil }()
		err := c.GetForUser(ctx, "API", nil)
		var ie *ginidentity.InteractionRequiredError
		if !errors.As(err, &ie) || ie != interaction || !strings.Contains(err.Error(), "gindownstream: API: no token for the user for s") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("non-2xx", func(t *testing.T) {
		n := len(api.requests())
		err := c.PostForUser(ctx, "API", map[string]int{"a": 1}, nil, WithQuery("secret", "x"))
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict || ae.Method != "POST" || ae.API != "API" ||
			ae.URL != api.URL || ae.Header.Get("Retry-After") != "3" || !strings.Contains(string(ae.Body), `"error":"conflict"`) {
			t.Fatalf("%#v", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "409 Conflict") || strings.Contains(msg, "eyJ") || strings.Contains(msg, "secret") {
			t.Fatalf("message %q", msg)
		}
		if len(api.requests()) != n+1 {
			t.Fatal("a non-2xx answer was retried")
		}
	})
}

func TestAnswers(t *testing.T) {
	api := newRecordingAPI(t)
	api.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/text":
			_, _ = io.WriteString(w, "not json")
		case "/big":
			_, _ = io.WriteString(w, `"`+strings.Repeat("x", 100)+`"`)
		}
	}
	c, err := New(&ginidentity.Config{DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: api.URL, Scopes: []string{"s"}}}},
		&fakeTokens{}, &Options{MaxResponseBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	ctx := userContext("alice")
	var v map[string]any
	if err := c.GetForUser(ctx, "API", &v, WithRelativePath("empty")); err != nil || v != nil {
		t.Errorf("204: %v %v", err, v)
	}
	if err := c.GetForUser(ctx, "API", &v, WithRelativePath("text")); err == nil || !strings.Contains(err.Error(), "not the JSON expected") {
		t.Errorf("text into a map: %v", err)
	}
	var raw []byte
	if err := c.GetForUser(ctx, "API", &raw, WithRelativePath("text")); err != nil || string(raw) != "not json" {
		t.Errorf("raw: %v %q", err, raw)
	}
	var s string
	if err := c.GetForUser(ctx, "API", &s, WithRelativePath("big")); err == nil || !strings.Contains(err.Error(), "larger than 50 bytes") {
		t.Errorf("too large: %v", err)
	}
}

func TestNewChecksEverything(t *testing.T) {
	_, err := New(nil, nil, &Options{MaxResponseBytes: -1})
	for _, want := range []string{"configuration is nil", "TokenAcquirer is nil", "MaxResponseBytes is negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want it to say %q", err, want)
		}
	}
	_, err = New(&ginidentity.Config{DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{"API": {BaseURL: "http://api.contoso.com"}}}, &fakeTokens{}, nil)
	for _, want := range []string{"DownstreamApis:API:BaseUrl", "DownstreamApis:API:Scopes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want it to name %s", err, want)
		}
	}
}
