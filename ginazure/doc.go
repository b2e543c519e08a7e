// Package ginazure provides an azcore.TokenCredential, acting for the current user or for the app, that any
// Azure SDK client accepts, with tokens from ginidentity.
package ginazure
