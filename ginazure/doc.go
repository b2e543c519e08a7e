// Package ginazure gives Azure SDK clients a credential acting for the current user or for the app, with
// tokens from ginidentity: an azcore.TokenCredential, as Microsoft.Identity.Web's
// MicrosoftIdentityTokenCredential is for the Azure SDK for .NET.
//
// In a handler, NewUserCredential binds the request's user (a web app's signed-in user, or a web API's
// caller, served on behalf of its token); NewAppCredential acts for the app itself. Any Azure SDK client
// takes the credential:
//
//	cred, err := ginazure.NewUserCredential(c, acquirer, nil)
//	...
//	blobs, err := azblob.NewClient("https://contoso.blob.core.windows.net/", cred, nil)
//
// The credential asks the acquirer for the scopes the client asks for (a resource's "/.default", which for
// a user means every scope consented), or for CredentialOptions.Scopes; it passes on the tenant and the
// claims of a claims challenge the client asks with. When the user must act (consent, sign in again), the
// error wraps the acquirer's *ginidentity.InteractionRequiredError, which errors.As finds in the error the
// Azure SDK client returns. Tokens never appear in errors.
//
// ginidentity itself imports no Azure SDK package: only the apps that use this package compile azcore.
package ginazure
