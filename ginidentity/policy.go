package ginidentity

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// RequireScopes lets a request through when its token carries at least one of the delegated permissions
// (scp claim), like Microsoft.Identity.Web's RequiredScope; otherwise it answers 403 insufficient_scope with
// scope="..." listing them. App-only tokens carry no scopes: use RequireScopeOrAppPermission to accept them
// too. Install it after BearerAuth.Middleware, on a route or a group. With no scope it refuses everything.
func RequireScopes(scopes ...string) gin.HandlerFunc {
	return requirePermission(scopes, nil)
}

// RequireRoles lets a request through when its token carries at least one of the app roles (roles claim):
// application permissions of an app-only token, or app roles assigned to the user. Otherwise it answers 403.
func RequireRoles(roles ...string) gin.HandlerFunc {
	return requirePermission(nil, roles)
}

// RequireScopeOrAppPermission lets a request through when its token carries one of the delegated scopes or
// one of the app permissions (app roles), like Microsoft.Identity.Web's RequiredScopeOrAppPermission: users
// through a client app and daemons alike. Otherwise it answers 403.
func RequireScopeOrAppPermission(scopes, appPermissions []string) gin.HandlerFunc {
	return requirePermission(scopes, appPermissions)
}

// RequireScopesFromConfig is RequireScopes with the scopes of AzureAd:Scopes, like Microsoft.Identity.Web's
// RequiredScope read from configuration: the named group of its object form ("Read" in
// {"Read": [...], "Write": [...]}), or every scope when group is "". It fails, naming the setting, when that
// leaves no scope.
func RequireScopesFromConfig(a AzureAdOptions, group string) (gin.HandlerFunc, error) {
	scopes := permissionsOf(a.Scopes, group)
	if len(scopes) == 0 {
		return nil, &ConfigError{Field: permissionField("AzureAd:Scopes", group), Problem: "holds no scope",
			Fix: "list the delegated permissions (scopes) this route accepts, such as [\"access_as_user\"]"}
	}
	return RequireScopes(scopes...), nil
}

// RequireScopeOrAppPermissionFromConfig is RequireScopeOrAppPermission with AzureAd:Scopes and
// AzureAd:AppPermissions, like Microsoft.Identity.Web's RequiredScopeOrAppPermission: the named group of
// each ("Read", "Write"...), or every value when group is "". It fails, naming the settings, when both are
// empty.
func RequireScopeOrAppPermissionFromConfig(a AzureAdOptions, group string) (gin.HandlerFunc, error) {
	scopes, roles := permissionsOf(a.Scopes, group), permissionsOf(a.AppPermissions, group)
	if len(scopes) == 0 && len(roles) == 0 {
		return nil, &ConfigError{Field: permissionField("AzureAd:Scopes", group),
			Problem: "and " + permissionField("AzureAd:AppPermissions", group) + " hold no permission",
			Fix:     "list the scopes and app permissions (app roles) this route accepts in appsettings.json"}
	}
	return RequireScopeOrAppPermission(scopes, roles), nil
}

func permissionsOf(p PermissionSet, group string) []string {
	if group == "" {
		return nonEmpty(p.All())
	}
	return nonEmpty(p.Named(group))
}

func permissionField(field, group string) string {
	if group == "" {
		return field
	}
	return field + ":" + group
}

func requirePermission(scopes, roles []string) gin.HandlerFunc {
	scopes, roles = nonEmpty(scopes), nonEmpty(roles)
	if len(scopes) == 0 && len(roles) == 0 {
		slog.Default().Warn("ginidentity: a scope or role policy was built with neither scopes nor roles; it refuses every request")
	}
	denied := &BearerError{
		StatusCode:  http.StatusForbidden,
		Code:        "insufficient_scope",
		Description: deniedDescription(scopes, roles),
		Scopes:      scopes,
		Err:         ErrInsufficientScope,
	}
	return func(c *gin.Context) {
		cl, ok := ClaimsFrom(c)
		if !ok {
			refuseRequest(c, &BearerError{StatusCode: http.StatusUnauthorized, Description: descNoToken, Err: ErrNoToken})
			return
		}
		for _, s := range scopes {
			if cl.HasScope(s) {
				return
			}
		}
		for _, r := range roles {
			if cl.HasRole(r) {
				return
			}
		}
		e := *denied
		refuseRequest(c, &e)
	}
}

func deniedDescription(scopes, roles []string) string {
	switch {
	case len(scopes) > 0 && len(roles) > 0:
		return "the token carries none of the scopes nor app roles this route accepts (app roles: " + strings.Join(roles, ", ") + ")"
	case len(roles) > 0:
		return "the token carries none of the app roles this route accepts: " + strings.Join(roles, ", ")
	case len(scopes) > 0:
		return "the token carries none of the scopes this route accepts"
	}
	return "this route accepts no caller"
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
