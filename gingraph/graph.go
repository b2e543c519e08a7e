package gingraph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// TokenAcquirer gets the access tokens. *ginidentity.TokenAcquirer is the one to use; tests may pass their
// own.
type TokenAcquirer interface {
	// TokenForUser gets a token for the user of the request ctx belongs to: on behalf of a web API's caller,
	// or for a web app's signed-in user.
	TokenForUser(ctx context.Context, scopes []string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
	// TokenForApp gets a token for the app itself, for a resource's /.default scope.
	TokenForApp(ctx context.Context, scope string, opts ...ginidentity.AcquireOption) (ginidentity.Token, error)
}

var _ TokenAcquirer = (*ginidentity.TokenAcquirer)(nil)

// Options configures New. A nil *Options, like every zero field, means the defaults.
type Options struct {
	// HTTPClient sends the requests to Microsoft Graph: its Transport (nil: http.DefaultTransport) carries
	// the Graph SDK's middleware (retries, redirects, compression), and its Timeout (0: 100 seconds, the
	// SDK's default) bounds each request.
	HTTPClient *http.Client
}

// Graph makes Microsoft Graph clients (msgraph-sdk-go's GraphServiceClient) acting for the current user or
// for the app, with tokens from a TokenAcquirer, against the MicrosoftGraph section's BaseUrl. It is safe
// for concurrent use; build one at start and share it.
type Graph struct {
	tokens     TokenAcquirer
	baseURL    string
	origin     string   // of baseURL: the only origin tokens are sent to
	userScopes []string // MicrosoftGraph:Scopes
	appScope   string   // the Graph resource's /.default
	httpClient *http.Client
}

// graphHosts are Microsoft Graph's hosts in Microsoft's clouds: an app token is asked for the one of BaseUrl.
var graphHosts = []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"}

// New prepares Graph clients from the MicrosoftGraph section of cfg (BaseUrl, default
// https://graph.microsoft.com/v1.0; Scopes, default User.Read), applying its defaults (see
// ginidentity.Config.Validate). It returns every problem at once.
func New(cfg *ginidentity.Config, tokens TokenAcquirer, opts *Options) (*Graph, error) {
	var errs []error
	if cfg == nil {
		errs = append(errs, errors.New("gingraph: New: the configuration is nil: load it with ginidentity.LoadConfig"))
	}
	if tokens == nil {
		errs = append(errs, errors.New("gingraph: New: the TokenAcquirer is nil: pass the app's *ginidentity.TokenAcquirer (ginidentity.NewTokenAcquirer)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gingraph: New: %w", err)
	}
	base := strings.TrimRight(cfg.MicrosoftGraph.BaseURL, "/")
	u, _ := url.Parse(base) // Validate checked it
	g := &Graph{tokens: tokens, baseURL: base, origin: origin(u), userScopes: slices.Clone(cfg.MicrosoftGraph.Scopes),
		appScope: "https://graph.microsoft.com/.default"}
	if slices.Contains(graphHosts, strings.ToLower(u.Hostname())) {
		g.appScope = "https://" + strings.ToLower(u.Hostname()) + "/.default"
	}

	hc := &http.Client{}
	if opts != nil && opts.HTTPClient != nil {
		hc = opts.HTTPClient
	}
	parent := hc.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	clientOptions := msgraphsdk.GetDefaultClientOptions()
	g.httpClient = &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent, msgraphcore.GetDefaultMiddlewaresWithOptions(&clientOptions)...),
		// The SDK's redirect middleware follows redirects, and drops the token when one leaves the host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       cmp.Or(hc.Timeout, DefaultTimeout),
		Jar:           hc.Jar,
	}
	return g, nil
}

// DefaultTimeout bounds a request to Graph when Options.HTTPClient sets no Timeout, as the Graph SDK's own
// client does.
const DefaultTimeout = 100 * time.Second

func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// ForUser returns a Graph client acting for the current user: the user of ctx's request (a *gin.Context, or
// its Request.Context()), bound now. A web API's caller is served on behalf of its token, a web app's
// signed-in user from the token cache, with the delegated scopes of MicrosoftGraph:Scopes (or WithScopes).
// With no user in ctx the error wraps ginidentity.ErrNoUser.
//
// A request's error wraps the acquirer's *ginidentity.InteractionRequiredError when the user must act
// (consent, sign in again); a claims challenge from Graph is answered once, by the Graph SDK, with a token
// satisfying the claims.
func (g *Graph) ForUser(ctx context.Context, opts ...Option) (*msgraphsdk.GraphServiceClient, error) {
	cl, ok := requestUser(ctx)
	if !ok {
		return nil, fmt.Errorf("gingraph: ForUser: %w", ginidentity.ErrNoUser)
	}
	o := applyOptions(opts)
	scopes := g.userScopes
	if o.scopes != nil {
		scopes = o.scopes
	}
	if len(scopes) == 0 {
		return nil, errors.New("gingraph: ForUser: no scopes to request: set MicrosoftGraph:Scopes (such as [\"User.Read\"]) or pass WithScopes")
	}
	return g.client(&authProvider{tokens: g.tokens, user: cl, scopes: scopes, acquire: o.acquire, origin: g.origin})
}

// ForApp returns a Graph client acting for the app itself (client credentials), with the Graph resource's
// "/.default" scope (or WithScopes'): what the app roles granted to the app allow. A multi-tenant app
// passes WithAcquireOptions(ginidentity.WithTenant(id)).
func (g *Graph) ForApp(opts ...Option) (*msgraphsdk.GraphServiceClient, error) {
	o := applyOptions(opts)
	scopes := []string{g.appScope}
	if o.scopes != nil {
		scopes = o.scopes
	}
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], "/.default") {
		return nil, fmt.Errorf("gingraph: ForApp: an app token is asked for one \"{resource}/.default\" scope, and WithScopes gave %q: use %q", scopes, g.appScope)
	}
	return g.client(&authProvider{tokens: g.tokens, scopes: scopes, acquire: o.acquire, origin: g.origin})
}

func (g *Graph) client(auth *authProvider) (*msgraphsdk.GraphServiceClient, error) {
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, g.httpClient)
	if err != nil {
		return nil, fmt.Errorf("gingraph: %w", err)
	}
	adapter.SetBaseUrl(g.baseURL)
	return msgraphsdk.NewGraphServiceClient(adapter), nil
}

// requestUser returns the user of the request ctx belongs to: the claims the sign-in or bearer middleware put
// in the request's context, or in the gin context when ctx is a *gin.Context (or derives from one).
func requestUser(ctx context.Context) (*ginidentity.Claims, bool) {
	if cl, ok := ginidentity.ClaimsFromContext(ctx); ok {
		return cl, true
	}
	if gc, ok := ctx.Value(gin.ContextKey).(*gin.Context); ok {
		return ginidentity.ClaimsFrom(gc)
	}
	return nil, false
}
