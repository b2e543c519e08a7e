package ginidentity

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// Consent to a scope of another resource than the sign-in's (a web API's, after Graph's User.Read): the
// authorize request asks for both, the code is redeemed for the web API's alone (a token request naming
// two resources is refused with AADSTS28000), and the Graph token still comes from the refresh token.
func TestIncrementalConsentForAnotherResource(t *testing.T) {
	ta := newTestApp(t, testAppOptions{})
	readWrite := entratest.WebAPIAppIDURI + "/ToDoList.ReadWrite"
	ta.router.GET("/todos/new", ta.app.RequireScopes(readWrite), func(c *gin.Context) {
		for _, scopes := range [][]string{{readWrite}, {"https://graph.microsoft.com/User.Read"}} {
			if _, err := ta.app.TokenAcquirer().TokenForUser(c.Request.Context(), scopes); err != nil {
				c.String(http.StatusInternalServerError, "%s: %v", scopes[0], err)
				return
			}
		}
		c.String(http.StatusOK, "both tokens")
	})
	b := newTestBrowser(t, ta.e)
	b.signIn(b.get(ta.base+"/profile"), entratest.Alice, "")

	start := b.get(ta.base + "/todos/new")
	if scope := start.location().Query().Get("scope"); start.status != http.StatusFound || !strings.Contains(scope, "User.Read") || !strings.Contains(scope, readWrite) {
		t.Fatalf("/todos/new: %d to %s", start.status, start.location())
	}
	p := b.signIn(start, entratest.Alice, "accept")
	if p.url.Path != "/todos/new" || p.status != http.StatusOK || p.body != "both tokens" {
		t.Fatalf("after consent: %d at %s: %s\n%s", p.status, p.url, p.body, ta.logs.String())
	}
}

func TestRedemptionScopes(t *testing.T) {
	api := entratest.WebAPIAppIDURI
	for _, c := range []struct{ in, want []string }{
		{[]string{"openid", "profile", "offline_access", "User.Read"}, []string{"User.Read"}},
		{[]string{"openid", "User.Read", api + "/ToDoList.ReadWrite"}, []string{api + "/ToDoList.ReadWrite"}},
		{[]string{"User.Read", api + "/A", "https://graph.microsoft.com/Mail.Read"}, []string{"User.Read", "https://graph.microsoft.com/Mail.Read"}},
		{[]string{"https://graph.microsoft.com/User.Read", api + "/A", strings.ToUpper(api) + "/B"}, []string{api + "/A", strings.ToUpper(api) + "/B"}},
		{[]string{"openid", "profile"}, []string{"openid", "profile"}},
	} {
		if got := redemptionScopes(c.in); !slices.Equal(got, c.want) {
			t.Errorf("redemptionScopes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
