package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
	"github.com/gin-identity/kit/sample/internal/webapitest"
)

// startAppWithAPI serves the web app against the emulator, its to-do pages calling the web API at apiURL.
func startAppWithAPI(t *testing.T, e *entratest.Emulator, apiURL string) string {
	t.Helper()
	cfg := emulatorConfig(e)
	addLocalTodoListAPIs(cfg, apiURL)
	router, err := newRouter(cfg, appOptions{HTTPClient: e.HTTPClient(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, router)
}

// The profile shows the name Microsoft Graph knows, read as the user: without Graph, the page says so and
// still lists the claims.
func TestProfileFromGraph(t *testing.T) {
	e := entratest.Start(t)
	base := startApp(t, e)
	c := newClient(t, e)
	p := c.through(c.do("GET", base+"/profile", nil), entratest.Alice)
	if p.url != base+"/profile" || !strings.Contains(p.body, `<strong id="graph-display-name">Alice Smith</strong>`) {
		t.Fatalf("/profile: %d at %s:\n%s", p.status, p.url, p.body)
	}
	e.FailEndpoint(entratest.EndpointGraph, http.StatusInternalServerError, 0)
	p = c.do("GET", base+"/profile", nil)
	if p.status != http.StatusOK || strings.Contains(p.body, `id="graph-display-name"`) || !strings.Contains(p.body, `id="graph-error"`) ||
		!strings.Contains(p.body, `<td id="claim-name">Alice Smith</td>`) {
		t.Fatalf("/profile with Graph failing: %d:\n%s", p.status, p.body)
	}
}

// alice reads her empty list, consents to ToDoList.ReadWrite when she opens the form, and adds an item that
// the list then shows, all through the web API (the program, on a free port). bob sees none of it, and his
// post without consent leads him to the consent page. A blank title is the web API's refusal, shown with the
// form; a post from another site is refused.
func TestTodos(t *testing.T) {
	e := entratest.Start(t)
	api := webapitest.Start(t, e)
	base := startAppWithAPI(t, e, api.URL())

	alice := newClient(t, e)
	p := alice.through(alice.do("GET", base+"/todos", nil), entratest.Alice)
	if p.url != base+"/todos" || p.status != http.StatusOK || !strings.Contains(p.body, "No items yet.") {
		t.Fatalf("/todos: %d at %s:\n%s", p.status, p.url, p.body)
	}
	p = alice.do("GET", base+"/todos/new", nil)
	if !strings.Contains(p.body, `<form id="consent"`) || !strings.Contains(p.body, "ToDoList.ReadWrite") {
		t.Fatalf("/todos/new did not ask for consent to ToDoList.ReadWrite: %d at %s:\n%s", p.status, p.url, p.body)
	}
	p = alice.through(p, entratest.Alice)
	if p.url != base+"/todos/new" || !strings.Contains(p.body, `<form id="todo"`) {
		t.Fatalf("/todos/new after consent: %d at %s:\n%s", p.status, p.url, p.body)
	}
	p = alice.answer(p, "title", "Buy milk")
	if p.url != base+"/todos" || !strings.Contains(p.body, `<li class="todo">Buy milk</li>`) {
		t.Fatalf("after adding: %d at %s:\n%s", p.status, p.url, p.body)
	}

	p = alice.do("POST", base+"/todos", url.Values{"title": {"  "}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="todo-error"`) || !strings.Contains(p.body, "blank") {
		t.Errorf("a blank title: %d:\n%s", p.status, p.body)
	}
	req, _ := http.NewRequest("POST", base+"/todos", strings.NewReader("title=Forged"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := alice.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site post: %d, want 403", resp.StatusCode)
	}
	if p := alice.do("GET", base+"/todos", nil); strings.Count(p.body, `<li class="todo">`) != 1 || strings.Contains(p.body, "Forged") {
		t.Errorf("alice's list after the refused posts:\n%s", p.body)
	}

	bob := newClient(t, e)
	if p := bob.through(bob.do("GET", base+"/todos", nil), entratest.Bob); !strings.Contains(p.body, "No items yet.") {
		t.Errorf("bob's list: %d at %s:\n%s", p.status, p.url, p.body)
	}
	p = bob.do("POST", base+"/todos", url.Values{"title": {"Bob's"}})
	if !strings.HasPrefix(p.url, e.URL()) || !strings.Contains(p.body, `<form id="consent"`) || !strings.Contains(p.body, "ToDoList.ReadWrite") {
		t.Fatalf("bob's post without consent: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if p = bob.through(p, entratest.Bob); p.url != base+"/todos" {
		t.Errorf("bob after consenting: %d at %s:\n%s", p.status, p.url, p.body)
	}
	if p := bob.answer(bob.do("GET", base+"/todos/new", nil), "title", "Bob's"); !strings.Contains(p.body, `<li class="todo">Bob&#39;s</li>`) || strings.Contains(p.body, "Buy milk") {
		t.Errorf("bob's list after adding: %d at %s:\n%s", p.status, p.url, p.body)
	}
}

// Without the web API the to-do pages say what to do: start it, or configure it.
func TestTodosErrors(t *testing.T) {
	e := entratest.Start(t)
	down := serve(t, http.NotFoundHandler())
	for _, c := range []struct {
		name, base, want string
		status           int
	}{
		{"web API down", startAppWithAPI(t, e, closedURL(t)), "start it with `go run ./sample/webapi`", http.StatusBadGateway},
		{"web API failing", startAppWithAPI(t, e, down+"/"), "answered 404 Not Found", http.StatusBadGateway},
		{"not configured", startApp(t, e), "add the DownstreamApis entries TodoList and TodoListWrite", http.StatusInternalServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newClient(t, e)
			p := cl.through(cl.do("GET", c.base+"/todos", nil), entratest.Alice)
			if p.status != c.status || !strings.Contains(p.body, `id="todos-error"`) || !strings.Contains(p.body, c.want) {
				t.Errorf("%d at %s, want %d saying %q:\n%s", p.status, p.url, c.status, c.want, p.body)
			}
		})
	}
}

// closedURL is the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String() + "/"
}

// Local mode fills the to-do list's DownstreamApis entries that the configuration leaves empty.
func TestAddLocalTodoListAPIs(t *testing.T) {
	cfg := &ginidentity.Config{}
	addLocalTodoListAPIs(cfg, localWebAPI)
	for name, scope := range map[string]string{todoListRead: "ToDoList.Read", todoListWrite: "ToDoList.ReadWrite"} {
		api, ok := cfg.DownstreamAPI(name)
		if !ok || api.URL() != "http://localhost:5001/api/todolist" || len(api.Scopes) != 1 || api.Scopes[0] != entratest.WebAPIAppIDURI+"/"+scope {
			t.Errorf("%s: %+v", name, api)
		}
	}
	cfg = &ginidentity.Config{DownstreamApis: map[string]ginidentity.DownstreamAPIOptions{todoListRead: {BaseURL: "http://localhost:6001/"}}}
	addLocalTodoListAPIs(cfg, localWebAPI)
	if api, _ := cfg.DownstreamAPI(todoListRead); api.URL() != "http://localhost:6001/api/todolist" || len(api.Scopes) != 1 {
		t.Errorf("with a BaseUrl of its own: %+v", api)
	}
}
