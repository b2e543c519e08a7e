package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// The DownstreamApis entries of the sample web API's to-do list: one to read it, with ToDoList.Read
// (consented for every user), one to add to it, with ToDoList.ReadWrite (each user consents when first
// adding an item).
const (
	todoListRead  = "TodoList"
	todoListWrite = "TodoListWrite"
	// localWebAPI is where `go run ./sample/webapi` listens.
	localWebAPI = "http://localhost:5001/"
)

// addLocalTodoListAPIs completes the to-do list's DownstreamApis entries for local mode: the sample web API
// of the emulator's default directory at baseURL. What the configuration sets (a BaseUrl, say) stays.
func addLocalTodoListAPIs(cfg *ginidentity.Config, baseURL string) {
	if cfg.DownstreamApis == nil {
		cfg.DownstreamApis = map[string]ginidentity.DownstreamAPIOptions{}
	}
	for name, scope := range map[string]string{todoListRead: "ToDoList.Read", todoListWrite: "ToDoList.ReadWrite"} {
		api, _ := cfg.DownstreamAPI(name)
		if api.BaseURL == "" {
			api.BaseURL = baseURL
		}
		if api.RelativePath == "" {
			api.RelativePath = "api/todolist"
		}
		if len(api.Scopes) == 0 {
			api.Scopes = []string{entratest.WebAPIAppIDURI + "/" + scope}
		}
		cfg.DownstreamApis[name] = api
	}
}

// todo is an item of the web API's to-do list.
type todo struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

// todos lists the signed-in user's items, read from the web API as the user.
func (app *webApp) todos(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), callTimeout)
	defer cancel()
	items := []todo{}
	err := app.downstream.GetForUser(ctx, todoListRead, &items)
	if ginidentity.Challenge(c, err) {
		return
	}
	if err != nil {
		status, msg := app.todoError(err)
		app.render(c, status, "todos", pageData{Error: msg})
		return
	}
	app.render(c, http.StatusOK, "todos", pageData{Todos: items})
}

// newTodo shows the form that adds an item. Its route asks for ToDoList.ReadWrite first (see
// requireAPIScopes): the user consents before typing anything.
func (app *webApp) newTodo(c *gin.Context) {
	app.render(c, http.StatusOK, "todo-new", pageData{})
}

// addTodo adds the form's item through the web API, as the user, then shows the list.
func (app *webApp) addTodo(c *gin.Context) {
	title := c.PostForm("title")
	ctx, cancel := context.WithTimeout(c.Request.Context(), callTimeout)
	defer cancel()
	err := app.downstream.PostForUser(ctx, todoListWrite, map[string]string{"title": title}, nil)
	// Consent to ToDoList.ReadWrite missing (or withdrawn): the browser goes to the consent page and comes
	// back to the list.
	if ginidentity.Challenge(c, err) {
		return
	}
	if err != nil {
		status, msg := app.todoError(err)
		app.render(c, status, "todo-new", pageData{Error: msg, Title: title})
		return
	}
	c.Redirect(http.StatusSeeOther, "/todos")
}

// todoError is the status and the message a page shows for a failed call to the web API. The web API's
// own refusal of an item (400) is the user's to fix; the rest is logged.
func (app *webApp) todoError(err error) (int, string) {
	var apiErr *gindownstream.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
		var body struct {
			Description string `json:"error_description"`
		}
		if json.Unmarshal(apiErr.Body, &body) == nil && body.Description != "" {
			return http.StatusBadRequest, "The item was refused: " + body.Description + "."
		}
	}
	app.logger.Warn("calling the to-do list web API failed", "err", err)
	var ue *url.Error
	switch {
	case errors.Is(err, gindownstream.ErrUnknownAPI):
		return http.StatusInternalServerError, fmt.Sprintf("The to-do list web API is not configured: add the DownstreamApis entries %s and %s to appsettings.json.", todoListRead, todoListWrite)
	case errors.As(err, &apiErr):
		return http.StatusBadGateway, fmt.Sprintf("The to-do list web API answered %d %s.", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
	case errors.As(err, &ue) && app.isTodoAPI(ue.URL):
		return http.StatusBadGateway, fmt.Sprintf("The to-do list web API does not answer at %s: start it with `go run ./sample/webapi`.", origin(ue.URL))
	}
	return http.StatusBadGateway, "The to-do list could not be read. Please try again later."
}

// isTodoAPI tells whether a request's URL is the to-do list web API's.
func (app *webApp) isTodoAPI(u string) bool {
	for _, base := range app.todoAPIs {
		if strings.HasPrefix(u, base) {
			return true
		}
	}
	return false
}

// origin is the scheme, host and port of a URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// requireAPIScopes asks the signed-in user for the scopes of a DownstreamApis entry before the page shows
// (incremental consent: the browser goes to the consent page, then comes back). Without the entry it only
// requires sign-in, and the call the page leads to says what to configure.
func requireAPIScopes(auth *ginidentity.WebApp, cfg *ginidentity.Config, name string) gin.HandlerFunc {
	if api, ok := cfg.DownstreamAPI(name); ok && len(api.Scopes) > 0 {
		return auth.RequireScopes(api.Scopes...)
	}
	return auth.RequireSignIn()
}

// sameOrigin refuses a form posted from another site (cross-site request forgery) with 403, as the
// browser's Sec-Fetch-Site and Origin headers tell (net/http's CrossOriginProtection).
func sameOrigin() gin.HandlerFunc {
	p := http.NewCrossOriginProtection()
	return func(c *gin.Context) {
		if err := p.Check(c.Request); err != nil {
			c.AbortWithStatus(http.StatusForbidden)
			return
		}
		c.Next()
	}
}
