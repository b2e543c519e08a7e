package main

import "html/template"

// pageData is what the pages show.
type pageData struct {
	Page      string // the page's template name, for the navigation
	User      string // the signed-in user's name, "" when nobody is signed in
	GraphName string // the user's display name, read from Microsoft Graph
	Claims    []claimRow
	Messages  []message
	Todos     []todo
	Title     string // the title the add form was posted with
	Error     string
}

type claimRow struct{ Name, Value string }

// pages are server-rendered with html/template, which escapes every value; they load nothing from
// anywhere.
var pages = template.Must(template.New("pages").Parse(`
{{define "top"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gin-identity sample web app</title>
<style>
body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
nav{display:flex;gap:1rem;align-items:baseline;border-bottom:1px solid #ddd;padding-bottom:.5rem}
nav .user{margin-left:auto}
table{border-collapse:collapse}td,th{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #eee;vertical-align:top}
td{word-break:break-all}.error{color:#a80000}
</style>
</head>
<body>
<nav>
<a id="nav-home" href="/">Home</a>
<a id="nav-profile" href="/profile">Profile</a>
<a id="nav-mail" href="/mail">Mail</a>
<a id="nav-todos" href="/todos">To-do list</a>
<span class="user">{{if .User}}<span id="user-name">{{.User}}</span> · <a id="sign-out" href="/auth/signout">Sign out</a>{{else}}<a id="sign-in" href="/auth/signin?returnUrl=%2F">Sign in</a>{{end}}</span>
</nav>
<main>
{{end}}

{{define "bottom"}}</main>
</body>
</html>
{{end}}

{{define "home"}}{{template "top" .}}
<h1>gin-identity sample web app</h1>
{{if .User}}<p id="greeting">Hello, {{.User}}.</p>
<p>See your <a href="/profile">profile</a>, your <a href="/mail">mail</a> (the app asks for your consent first), or
your <a href="/todos">to-do list</a>, kept by the sample web API.</p>
{{else}}<p id="greeting">You are not signed in.</p>
<p><a id="sign-in-main" href="/auth/signin?returnUrl=%2F">Sign in</a> with your Microsoft Entra ID account.</p>
{{end}}{{template "bottom" .}}{{end}}

{{define "profile"}}{{template "top" .}}
<h1>Profile</h1>
{{if .Error}}<p id="graph-error" class="error">{{.Error}}</p>
{{else}}<p>Your name in Microsoft Graph: <strong id="graph-display-name">{{.GraphName}}</strong></p>
{{end}}<p>The claims of your ID token that your session keeps:</p>
<table id="claims">
<tr><th>Claim</th><th>Value</th></tr>
{{range .Claims}}<tr><td>{{.Name}}</td><td id="claim-{{.Name}}">{{.Value}}</td></tr>
{{end}}</table>
{{template "bottom" .}}{{end}}

{{define "mail"}}{{template "top" .}}
<h1>Mail</h1>
{{if .Error}}<p id="mail-error" class="error">{{.Error}}</p>
{{else}}<p>Your latest messages, read from Microsoft Graph as you:</p>
<table id="messages">
<tr><th>Received</th><th>From</th><th>Subject</th></tr>
{{range .Messages}}<tr class="message"><td>{{.Received}}</td><td>{{.From}}</td><td>{{.Subject}}</td></tr>
{{else}}<tr><td colspan="3">No messages.</td></tr>
{{end}}</table>
{{end}}{{template "bottom" .}}{{end}}

{{define "todos"}}{{template "top" .}}
<h1>To-do list</h1>
{{if .Error}}<p id="todos-error" class="error">{{.Error}}</p>
{{else}}<p>Your items, read from the sample web API as you:</p>
<ul id="todos">
{{range .Todos}}<li class="todo">{{.Title}}</li>
{{else}}<li>No items yet.</li>
{{end}}</ul>
{{end}}<p><a id="add-todo" href="/todos/new">Add an item</a> (the app asks for your consent to change your list first)</p>
{{template "bottom" .}}{{end}}

{{define "todo-new"}}{{template "top" .}}
<h1>Add an item</h1>
{{if .Error}}<p id="todo-error" class="error">{{.Error}}</p>
{{end}}<form id="todo" method="post" action="/todos">
<label for="title">Title</label>
<input id="title" name="title" value="{{.Title}}" maxlength="256" required autofocus>
<button id="add" type="submit">Add</button>
</form>
<p><a href="/todos">Back to the list</a></p>
{{template "bottom" .}}{{end}}
`))
