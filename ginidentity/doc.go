// Package ginidentity signs users into Gin web apps with Microsoft Entra ID, protects Gin web APIs with
// bearer-token validation and scope or app-role policies, and acquires tokens for the signed-in user, the
// caller of a web API or the app itself through MSAL Go.
//
// Configuration reads the same AzureAd, DownstreamApis and MicrosoftGraph sections as a
// Microsoft.Identity.Web appsettings.json, so an ASP.NET Core sample's file loads unchanged.
//
// This package imports neither the Microsoft Graph SDK nor the Azure SDK: a service that only protects an API
// compiles neither. The gingraph, gindownstream and ginazure packages build on it.
package ginidentity
