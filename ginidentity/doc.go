// Package ginidentity signs users into Gin web apps with Microsoft Entra ID, protects Gin web APIs with
// bearer-token validation and scope or app-role policies, and acquires tokens for the signed-in user, the
// caller of a web API or the app itself through MSAL Go.
//
// Configuration reads the same AzureAd, DownstreamApis and MicrosoftGraph sections as a
// Microsoft.Identity.Web appsettings.json, so an ASP.NET Core sample's file loads unchanged.
//
// A web API puts BearerAuth.Middleware (from NewBearerAuthFromConfig or NewBearerAuth) in front of its
// routes: it validates Entra ID access tokens (signature by the tenant's published keys, issuer, audience,
// lifetime) and makes the caller's Claims reachable from the gin context and the request's context
// (ClaimsFrom, ClaimsFromContext). Policies (RequireScopes, RequireRoles, RequireScopeOrAppPermission and
// their FromConfig forms) then decide per route; refusals are answered as RFC 6750 asks.
//
// An app run on many instances shares its users' tokens and sessions in Redis through the TokenCache and
// Sessions sections: NewTokenCacheStore and NewSessionStore build the stores (encrypted at rest, every call
// bounded by a timeout), and a store that is down makes the requests needing it answer 503.
//
// This package imports neither the Microsoft Graph SDK nor the Azure SDK: a service that only protects an API
// compiles neither. The gingraph, gindownstream and ginazure packages build on it.
package ginidentity
