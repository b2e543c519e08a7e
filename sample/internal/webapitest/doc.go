// Package webapitest builds the sample web API (sample/webapi) and runs it as a program against a test's
// Entra ID emulator, for the tests of the samples that call it: the web app and the daemon.
package webapitest
