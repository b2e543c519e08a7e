// Package gingraph gives Gin handlers a Microsoft Graph client (msgraph-sdk-go) acting for the current user
// or for the app, with tokens from ginidentity.
package gingraph
