// Package gindownstream calls the downstream web APIs named in the DownstreamApis configuration section,
// for the current user or for the app, with tokens from ginidentity.
package gindownstream
