package main

import (
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Todo is an item of a to-do list.
type Todo struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	// Owner is the object id (oid) of the user, or of the app for an item an app added.
	Owner string `json:"owner"`
}

// Bounds of the in-memory store: a sample must not let one caller fill the server's memory.
const (
	maxTitleLength     = 256
	maxItemsPerOwner   = 1000
	maxItemsAltogether = 100_000
)

var (
	errTitleRequired = errors.New(`"title" is required and must not be blank`)
	errTitleTooLong  = errors.New(`"title" is longer than 256 characters`)
	errTitleInvalid  = errors.New(`"title" is not valid UTF-8 text`)
	errListFull      = errors.New("the to-do list is full: it holds at most 1000 items")
	errStoreFull     = errors.New("the server holds as many items as it can")
)

// ownedTodo is a stored item with its owner's key: tenant id and object id, since an object id is unique
// only within its tenant.
type ownedTodo struct {
	Todo
	ownerKey string
}

// todoStore keeps every list in memory, like Microsoft's TodoList sample. It is safe for concurrent use.
type todoStore struct {
	mu      sync.Mutex
	nextID  int
	items   []ownedTodo
	byOwner map[string]int // item count per owner key
}

func newTodoStore() *todoStore { return &todoStore{nextID: 1, byOwner: map[string]int{}} }

func ownerKey(tenantID, objectID string) string {
	return strings.ToLower(tenantID) + "/" + strings.ToLower(objectID)
}

// list returns the items of the owner key, or every item when all is set (an app's view).
func (s *todoStore) list(key string, all bool) []Todo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Todo{}
	for _, it := range s.items {
		if all || it.ownerKey == key {
			out = append(out, it.Todo)
		}
	}
	return out
}

// add checks the title and stores a new item for the owner.
func (s *todoStore) add(key, ownerID, title string) (Todo, error) {
	title = strings.TrimSpace(title)
	switch {
	case !utf8.ValidString(title) || strings.ContainsFunc(title, unicode.IsControl):
		return Todo{}, errTitleInvalid
	case title == "":
		return Todo{}, errTitleRequired
	case utf8.RuneCountInString(title) > maxTitleLength:
		return Todo{}, errTitleTooLong
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.byOwner[key] >= maxItemsPerOwner:
		return Todo{}, errListFull
	case len(s.items) >= maxItemsAltogether:
		return Todo{}, errStoreFull
	}
	t := Todo{ID: s.nextID, Title: title, Owner: ownerID}
	s.nextID++
	s.items = append(s.items, ownedTodo{Todo: t, ownerKey: key})
	s.byOwner[key]++
	return t, nil
}
