// Package gindownstream calls the web APIs named in the DownstreamApis configuration section, for the
// current user or for the app, with tokens from ginidentity, as Microsoft.Identity.Web's IDownstreamApi does.
//
// Each entry of the section names an API: its BaseUrl, RelativePath, the Scopes to request, HttpMethod,
// AcceptHeader, ContentType, ExtraHeaderParameters, ExtraQueryParameters and AcquireTokenOptions:
//
//	"DownstreamApis": {
//	  "TodoList": {
//	    "BaseUrl": "https://localhost:5001/",
//	    "RelativePath": "api/todolist",
//	    "Scopes": ["api://11112222-bbbb-3333-cccc-4444dddd5555/ToDoList.Read"]
//	  }
//	}
//
// A handler calls it for the current user (a web app's signed-in user, or a web API's caller, on behalf of
// its token) or for the app, with JSON in and out:
//
//	var items []Todo
//	err := downstream.GetForUser(c, "TodoList", &items)
//	err = downstream.PostForUser(c, "TodoList", Todo{Title: "Buy milk"}, &created, gindownstream.WithScopes(readWrite))
//
// Options override the entry for one call (WithRelativePath, WithScopes, WithMethod, WithHeader, WithQuery,
// WithOverride) or pass options to the token acquisition (WithAcquireOptions). HTTPClientForUser and
// HTTPClientForApp return a plain *http.Client whose transport authorizes each request to the API, for
// anything else.
//
// A 401 carrying a claims challenge (WWW-Authenticate: Bearer error="insufficient_claims", claims="...") is
// retried once with a token that satisfies the claims. Errors say what to do: when the user must sign in
// again or consent, the error wraps the acquirer's *ginidentity.InteractionRequiredError, which a web app
// turns into a redirect to the sign-in page; an answer other than 2xx is an *APIError keeping the status,
// the headers and the body; a name missing from DownstreamApis wraps ErrUnknownAPI and says which key to
// add. Tokens never appear in errors.
package gindownstream
