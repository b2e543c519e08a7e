package ginidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads JSON with comments, as .NET's JSON configuration provider does: // and /* */ comments,
// trailing commas and a UTF-8 byte order mark are allowed. stripJSONC blanks them out without moving any byte,
// so that encoding/json's offsets are offsets into the original file and errors can name its line and column.
// The result is a tree of nodes whose object keys are unique case-insensitively, as .NET configuration keys
// are, and which remember where in the file each value was.

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// stripJSONC returns a copy of data with comments, trailing commas and a leading byte order mark replaced by
// spaces (newlines inside comments are kept). It has the same length as data. An unterminated block comment is
// reported with the offset of its start.
func stripJSONC(data []byte) ([]byte, error) {
	out := bytes.Clone(data)
	if bytes.HasPrefix(out, utf8BOM) {
		copy(out, "   ")
	}
	var (
		last      byte = 0  // the last significant byte outside strings and comments
		lastComma      = -1 // offset of a comma that may turn out to be trailing
	)
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == '"':
			for i++; i < len(out) && out[i] != '"'; i++ {
				if out[i] == '\\' {
					i++
				}
			}
			last, lastComma = '"', -1
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			end := bytes.Index(out[i+2:], []byte("*/"))
			if end < 0 {
				return nil, &offsetError{offset: i, msg: "a /* comment is not closed: add */"}
			}
			end += i + 4
			for ; i < end; i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
			i--
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c == ',':
			if last == ',' || last == ':' || last == '[' || last == '{' || last == 0 {
				lastComma = -1 // not after a value: leave it for the JSON parser to refuse
			} else {
				lastComma = i
			}
			last = c
		case c == '}' || c == ']':
			if lastComma >= 0 {
				out[lastComma] = ' '
			}
			last, lastComma = c, -1
		default:
			last, lastComma = c, -1
		}
	}
	return out, nil
}

// offsetError is a problem at a byte offset of the file being parsed.
type offsetError struct {
	offset int
	msg    string
}

func (e *offsetError) Error() string { return e.msg }

// nodeKind is the JSON type of a node.
type nodeKind uint8

const (
	nullNode nodeKind = iota
	stringNode
	numberNode
	boolNode
	objectNode
	arrayNode
)

func (k nodeKind) String() string {
	return [...]string{"null", "a string", "a number", "a boolean", "an object", "an array"}[k]
}

// node is a configuration value: a JSON value from the file or a string from the environment.
type node struct {
	kind   nodeKind
	text   string  // stringNode and numberNode: the value; numberNode keeps its literal
	b      bool    // boolNode
	fields []field // objectNode, in file order, keys unique case-insensitively
	elems  []*node // arrayNode; a null element is a gap left by an environment variable's index
	src    string  // "FILE:LINE:COL", "environment variable NAME", or "" for a node made implicitly
}

type field struct {
	key string
	val *node
}

// lookup returns the index of key in an object node, compared case-insensitively, or -1.
func (n *node) lookup(key string) int {
	for i, f := range n.fields {
		if strings.EqualFold(f.key, key) {
			return i
		}
	}
	return -1
}

// strings returns the node as a list of strings: an array of strings, or one string split at white space.
func (n *node) strings() ([]string, bool) {
	switch n.kind {
	case nullNode:
		return nil, true
	case stringNode:
		if f := strings.Fields(n.text); len(f) > 0 {
			return f, true
		}
		return nil, true
	case arrayNode:
		var list []string
		for _, e := range n.elems {
			switch e.kind {
			case nullNode:
			case stringNode:
				list = append(list, e.text)
			default:
				return nil, false
			}
		}
		return list, true
	}
	return nil, false
}

// appendJSON appends the node as JSON.
func (n *node) appendJSON(b []byte) []byte {
	switch n.kind {
	case stringNode:
		s, _ := json.Marshal(n.text)
		return append(b, s...)
	case numberNode:
		return append(b, n.text...)
	case boolNode:
		return strconv.AppendBool(b, n.b)
	case objectNode:
		b = append(b, '{')
		for i, f := range n.fields {
			if i > 0 {
				b = append(b, ',')
			}
			k, _ := json.Marshal(f.key)
			b = append(append(b, k...), ':')
			b = f.val.appendJSON(b)
		}
		return append(b, '}')
	case arrayNode:
		b = append(b, '[')
		for i, e := range n.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// positions turns byte offsets of a file into FILE:LINE:COLUMN, counting columns in characters.
type positions struct {
	name       string
	data       []byte
	lineStarts []int
}

func newPositions(name string, data []byte) *positions {
	p := &positions{name: name, data: data, lineStarts: []int{0}}
	if bytes.HasPrefix(data, utf8BOM) {
		p.lineStarts[0] = len(utf8BOM)
	}
	for i, c := range data {
		if c == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	return p
}

func (p *positions) at(offset int) string {
	offset = max(0, min(offset, len(p.data)))
	line := sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > offset }) - 1
	start := min(p.lineStarts[line], offset)
	return fmt.Sprintf("%s:%d:%d", p.name, line+1, utf8.RuneCount(p.data[start:offset])+1)
}

// parseJSONC parses a configuration file into a tree. A syntax error is returned alone; keys repeated in one
// object (compared case-insensitively, as .NET does) are all reported, the last value winning.
func parseJSONC(name string, data []byte) (*node, []error) {
	pos := newPositions(name, data)
	syntaxError := func(offset int, msg string) []error {
		return []error{&ConfigError{Source: pos.at(offset), Problem: msg,
			Fix: "fix the JSON there (comments and trailing commas are allowed)"}}
	}
	stripped, err := stripJSONC(data)
	if err != nil {
		var oe *offsetError
		errors.As(err, &oe)
		return nil, syntaxError(oe.offset, oe.msg)
	}
	if len(bytes.TrimSpace(stripped)) == 0 {
		return &node{kind: objectNode}, nil // an empty file holds no settings
	}
	var probe any
	if err := json.Unmarshal(stripped, &probe); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return nil, syntaxError(0, "invalid JSON: "+err.Error())
		}
		if se.Error() == "unexpected end of JSON input" {
			return nil, syntaxError(len(data), "invalid JSON: the file ends early: a value, a closing } or ], or a closing \" is missing")
		}
		msg := "invalid JSON: " + hideValueCharacter(se.Error())
		if strings.Contains(msg, "after object key:value pair") || strings.Contains(msg, "after array element") {
			msg += " (is a comma missing before it?)"
		}
		return nil, syntaxError(int(se.Offset)-1, msg)
	}
	if _, ok := probe.(map[string]any); !ok {
		start := len(stripped) - len(bytes.TrimLeft(stripped, " \t\r\n"))
		return nil, syntaxError(start, "the file must hold one JSON object, { ... }")
	}

	p := &treeParser{dec: json.NewDecoder(bytes.NewReader(stripped)), data: stripped, pos: pos}
	p.dec.UseNumber()
	root, err := p.value("")
	if err != nil { // not expected once json.Unmarshal accepted the input
		return nil, syntaxError(int(p.dec.InputOffset()), "invalid JSON: "+err.Error())
	}
	return root, p.errs
}

// quotedCharacter finds the character encoding/json quotes in a syntax error.
var quotedCharacter = regexp.MustCompile(`character '(.+?)' `)

// hideValueCharacter keeps the character a syntax error quotes only when it is JSON punctuation: any other may
// be part of a secret (an unescaped quote or backslash in a ClientSecret), and the position says where it is.
func hideValueCharacter(msg string) string {
	return quotedCharacter.ReplaceAllStringFunc(msg, func(m string) string {
		if c := quotedCharacter.FindStringSubmatch(m)[1]; len(c) == 1 && strings.Contains(`{}[]:,"`, c) {
			return m
		}
		return "character "
	})
}

// treeParser builds the tree from a stripped file that encoding/json has already accepted.
type treeParser struct {
	dec  *json.Decoder
	data []byte
	pos  *positions
	errs []error
}

// next returns the offset of the next token: InputOffset points after the previous token, before any white
// space, colon or comma.
func (p *treeParser) next() int {
	i := int(p.dec.InputOffset())
	for i < len(p.data) && strings.IndexByte(" \t\r\n:,", p.data[i]) >= 0 {
		i++
	}
	return i
}

func (p *treeParser) value(path string) (*node, error) {
	n := &node{src: p.pos.at(p.next())}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
	case string:
		n.kind, n.text = stringNode, t
	case json.Number:
		n.kind, n.text = numberNode, t.String()
	case bool:
		n.kind, n.b = boolNode, t
	case json.Delim:
		if t == '{' {
			n.kind = objectNode
			for p.dec.More() {
				keyAt := p.next()
				tok, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := tok.(string)
				val, err := p.value(joinPath(path, key))
				if err != nil {
					return nil, err
				}
				if i := n.lookup(key); i >= 0 {
					p.errs = append(p.errs, &ConfigError{Source: p.pos.at(keyAt), Field: joinPath(path, key),
						Problem: fmt.Sprintf("appears twice (as %q and %q; keys are case-insensitive)", n.fields[i].key, key),
						Fix:     "keep only one"})
					n.fields[i].val = val
					continue
				}
				n.fields = append(n.fields, field{key, val})
			}
		} else {
			n.kind = arrayNode
			for i := 0; p.dec.More(); i++ {
				e, err := p.value(joinPath(path, strconv.Itoa(i)))
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
		}
		if _, err := p.dec.Token(); err != nil && err != io.EOF { // the closing delimiter
			return nil, err
		}
	}
	return n, nil
}

// joinPath joins configuration path segments with ':', as .NET writes them ("AzureAd:ClientId").
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + ":" + key
}
