// Package gindownstream calls the web APIs named in the DownstreamApis configuration section, for the
// current user or for the app, with tokens from ginidentity, as Microsoft.Identity.Web's IDownstreamApi does.
//
// Each entry of the section names an API: its BaseUrl, RelativePath, the Scopes to request, HttpMethod,
// AcceptHeader, ContentType, ExtraHeaderParameters, ExtraQueryParameters and AcquireTokenOptions:
//
//	"DownstreamApis": {
//	  "TodoList": {
//	    "BaseUrl": "http://localhost:5001/",
//	    "RelativePath": "api/todolist",
//	    "Scopes": ["api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.Read"]
//	  }
//	}
//
// Build a *Client once with New, from the configuration and the app's *ginidentity.TokenAcquirer. A handler
// then calls an API for the current user (a web app's signed-in user, or a web API's caller, on behalf of
// its token) or for the app, with JSON in and out, passing its *gin.Context:
//
//	var items []Todo
//	err := downstream.GetForUser(c, "TodoList", &items)
//	err = downstream.PostForUser(c, "TodoList", Todo{Title: "Buy milk"}, &created, gindownstream.WithScopes(readWrite))
//
// CallForUser and CallForApp use the entry's HttpMethod; Call acts for the app when the entry sets
// RequestAppToken, for the user otherwise. Options override the entry for one call (WithRelativePath,
// WithScopes, WithMethod, WithHeader, WithQuery, WithOverride) or pass options to the token acquisition
// (WithAcquireOptions). HTTPClientForUser and HTTPClientForApp return a plain *http.Client whose transport
// authorizes each request to the API's origin, and no other, for anything else.
//
// A 401 carrying a claims challenge (WWW-Authenticate: Bearer error="insufficient_claims", claims="...") is
// retried once with a token that satisfies the claims. Errors say what to do: when the user must sign in
// again or consent, the error wraps the acquirer's *ginidentity.InteractionRequiredError, which a web app
// turns into a redirect to the sign-in page; an answer other than 2xx is an *APIError keeping the status,
// the headers and the body; a name missing from DownstreamApis wraps ErrUnknownAPI and says which key to
// add. Tokens never appear in errors.
package gindownstream
