package ginidentity_test

import (
	"errors"
	"fmt"

	"github.com/gin-identity/kit/ginidentity"
)

// An ASP.NET Core sample's appsettings.json loads unchanged, comments and trailing commas included, and
// environment variables override it with .NET's naming.
func ExampleLoadConfigFrom() {
	appsettings := []byte(`{
  "AzureAd": {
    "Instance": "https://login.microsoftonline.com/",
    "TenantId": "aaaabbbb-0000-cccc-1111-dddd2222eeee",
    "ClientId": "11112222-bbbb-3333-cccc-4444dddd5555",
    // Delegated scopes and app roles the web API requires, by operation.
    "Scopes": { "Read": ["ToDoList.Read", "ToDoList.ReadWrite"], "Write": ["ToDoList.ReadWrite"], },
    "AppPermissions": { "Read": ["ToDoList.Read.All"], "Write": ["ToDoList.ReadWrite.All"] },
  },
  "DownstreamApis": {
    "TodoList": { "BaseUrl": "https://localhost:44351", "RelativePath": "api/todolist", "Scopes": ["api://x/.default"] },
  },
}`)
	env := []string{
		"AzureAd__ClientCredentials__0__SourceType=ClientSecret",
		"AzureAd__ClientCredentials__0__ClientSecret=from-a-secret-store",
		"DownstreamApis__TodoList__BaseUrl=https://todolist.contoso.com",
	}
	cfg, err := ginidentity.LoadConfigFrom("appsettings.json", appsettings, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.AzureAd.AuthorityURL())
	fmt.Println(cfg.AzureAd.Scopes.Named("read"), cfg.AzureAd.AppPermissions.All())
	todo, _ := cfg.DownstreamAPI("TodoList")
	fmt.Println(todo.HTTPMethod, todo.URL())
	fmt.Println(cfg.AzureAd.ClientCredentials) // secrets never print
	fmt.Println(cfg.ValidateWebApp())
	// Output:
	// https://login.microsoftonline.com/aaaabbbb-0000-cccc-1111-dddd2222eeee
	// [ToDoList.Read ToDoList.ReadWrite] [ToDoList.Read.All ToDoList.ReadWrite.All]
	// GET https://todolist.contoso.com/api/todolist
	// [{SourceType:ClientSecret ClientSecret:[redacted]}]
	// <nil>
}

// A file that does not parse is reported at its line and column.
func ExampleLoadConfigFrom_syntaxError() {
	_, err := ginidentity.LoadConfigFrom("appsettings.json", []byte(`{
  "AzureAd": {
    "TenantId": "common"
    "ClientId": "11112222-bbbb-3333-cccc-4444dddd5555"
  }
}`), nil)
	fmt.Println(err)
	// Output:
	// appsettings.json:4:5: invalid JSON: invalid character '"' after object key:value pair (is a comma missing before it?): fix the JSON there (comments and trailing commas are allowed)
}

// A Config can be built in code, with no file. Validation reports every problem at once, each naming the
// setting and its fix.
func ExampleConfig_ValidateWebApp() {
	cfg := &ginidentity.Config{AzureAd: ginidentity.AzureAdOptions{
		Instance:     "http://login.microsoftonline.com/",
		TenantID:     "contoso.onmicrosoft.com",
		CallbackPath: "signin-oidc",
	}}
	err := cfg.ValidateWebApp()
	fmt.Println(err)

	var ce *ginidentity.ConfigError
	if errors.As(err, &ce) {
		fmt.Println("first:", ce.Field)
	}
	// Output:
	// AzureAd:ClientId is required for a web app: set it in appsettings.json or AzureAd__ClientId
	// AzureAd:ClientCredentials needs at least one credential for a web app: add an entry such as {"SourceType": "ClientSecret", "ClientSecret": "..."} or a certificate, or set AzureAd__ClientCredentials__0__SourceType=ClientSecret and AzureAd__ClientCredentials__0__ClientSecret
	// AzureAd:Instance must use https: Microsoft Entra ID is served over https only; write https://login.microsoftonline.com/
	// AzureAd:CallbackPath "signin-oidc" must be a path on this app starting with '/': use a path such as /signin-oidc, and register the matching redirect URI
	// first: AzureAd:ClientId
}

// Scopes and AppPermissions accept a space-separated string, an array, or an object of named arrays.
func ExamplePermissionSet() {
	for _, scopes := range []string{`"access_as_user"`, `["ToDoList.Read", "ToDoList.ReadWrite"]`, `{"Read": ["ToDoList.Read"], "Write": "ToDoList.ReadWrite"}`} {
		cfg, err := ginidentity.LoadConfigFrom("", []byte(`{"AzureAd": {"Scopes": `+scopes+`}}`), nil)
		if err != nil {
			fmt.Println(err)
			continue
		}
		s := cfg.AzureAd.Scopes
		fmt.Printf("All=%v Named(Write)=%v\n", s.All(), s.Named("Write"))
	}
	// Output:
	// All=[access_as_user] Named(Write)=[]
	// All=[ToDoList.Read ToDoList.ReadWrite] Named(Write)=[]
	// All=[ToDoList.Read ToDoList.ReadWrite] Named(Write)=[ToDoList.ReadWrite]
}

// With no AzureAd settings the app runs in local mode, against the emulator.
func ExampleAzureAdOptions_IsConfigured() {
	cfg, err := ginidentity.LoadConfigFrom("", nil, []string{"HOME=/root"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.AzureAd.IsConfigured(), cfg.AzureAd.CallbackPath, cfg.MicrosoftGraph.BaseURL, cfg.MicrosoftGraph.Scopes)
	// Output:
	// false /signin-oidc https://graph.microsoft.com/v1.0 [User.Read]
}
