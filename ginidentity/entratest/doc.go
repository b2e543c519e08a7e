// Package entratest is a local Microsoft Entra ID emulator for tests and for local development.
//
// It serves Entra's v2.0 endpoints over HTTPS on loopback under its own certificate authority: OpenID
// discovery, JWKS, authorize (an HTML sign-in form and consent page), token (authorization code, refresh
// token, client credentials and on-behalf-of), end session, a managed identity endpoint and a small Microsoft
// Graph. Tokens are shaped as Entra issues them, and errors carry Entra's AADSTS codes, so real clients such
// as MSAL Go, golang.org/x/oauth2 and go-oidc accept it unchanged.
package entratest
