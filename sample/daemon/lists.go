package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/gin-identity/kit/gindownstream"
	"github.com/gin-identity/kit/gingraph"
	"github.com/gin-identity/kit/ginidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// todoList is the DownstreamApis entry of the sample web API's to-do list.
const todoList = "TodoList"

// addLocalTodoListAPI adds DownstreamApis:TodoList for local mode when the configuration has none: the
// sample web API of the emulator's default directory, as `go run ./sample/webapi` serves it, called with an
// app token.
func addLocalTodoListAPI(cfg *ginidentity.Config) {
	if _, ok := cfg.DownstreamAPI(todoList); ok {
		return
	}
	if cfg.DownstreamApis == nil {
		cfg.DownstreamApis = map[string]ginidentity.DownstreamAPIOptions{}
	}
	cfg.DownstreamApis[todoList] = ginidentity.DownstreamAPIOptions{BaseURL: "http://localhost:5001/",
		RelativePath: "api/todolist", Scopes: []string{defaultScope}, RequestAppToken: true}
}

// todo is an item of the web API's to-do list.
type todo struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Owner string `json:"owner"` // the object id of the user (or app) that added it
}

// printTodos lists every item of the web API's to-do list, as the app: what its app role
// ToDoList.Read.All lets it read.
func printTodos(ctx context.Context, cfg *ginidentity.Config, acq *ginidentity.TokenAcquirer, hc *http.Client, out io.Writer) error {
	downstream, err := gindownstream.New(cfg, acq, &gindownstream.Options{HTTPClient: hc})
	if err != nil {
		return err
	}
	var items []todo
	err = downstream.GetForApp(ctx, todoList, &items)
	api, _ := cfg.DownstreamAPI(todoList)
	var apiErr *gindownstream.APIError
	var urlErr *url.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the web API refused the app: grant it the application permission ToDoList.Read.All (admin consent) on the app registration's API permissions page: %w", err)
	case errors.As(err, &urlErr) && strings.HasPrefix(urlErr.URL, strings.TrimRight(api.BaseURL, "/")):
		return fmt.Errorf("the web API does not answer at %s (start it: `go run ./sample/webapi`): %w", urlErr.URL, urlErr.Err)
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "to-do items of every user (%d):\n", len(items))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, it := range items {
		fmt.Fprintf(tw, "  %d\t%s\towner %s\n", it.ID, it.Title, it.Owner)
	}
	return tw.Flush()
}

// printUsers lists the users of the app's tenant from Microsoft Graph, as the app: what its app role
// User.Read.All lets it read.
func printUsers(ctx context.Context, cfg *ginidentity.Config, acq *ginidentity.TokenAcquirer, hc *http.Client, out io.Writer) error {
	graph, err := gingraph.New(cfg, acq, &gingraph.Options{HTTPClient: hc})
	if err != nil {
		return err
	}
	client, err := graph.ForApp()
	if err != nil {
		return err
	}
	page, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"displayName", "userPrincipalName"}},
	})
	var odataErr *odataerrors.ODataError
	if errors.As(err, &odataErr) && odataErr.ResponseStatusCode == http.StatusForbidden {
		return fmt.Errorf("the Microsoft Graph API refused the app: grant it Microsoft Graph's application permission User.Read.All (admin consent) on the app registration's API permissions page: %w", err)
	}
	if err != nil {
		return fmt.Errorf("listing the users from Microsoft Graph: %w", err)
	}
	fmt.Fprintf(out, "users from Microsoft Graph (%d):\n", len(page.GetValue()))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, u := range page.GetValue() {
		fmt.Fprintf(tw, "  %s\t%s\n", deref(u.GetDisplayName()), deref(u.GetUserPrincipalName()))
	}
	if page.GetOdataNextLink() != nil {
		fmt.Fprintln(tw, "  ...\t(more on the next pages)")
	}
	return tw.Flush()
}

// deref is the string a Graph model's property points to, "" for none.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
