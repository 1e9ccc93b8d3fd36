package sdf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pointsav/plinth/internal/diag"
)

// Element is one XML element with the place of its tag and of each attribute.
type Element struct {
	Name     string
	Attrs    []Attr
	Children []*Element
	Pos      diag.Pos
	// Text is non-whitespace character data directly inside the element,
	// with the place it starts.
	Text    string
	TextPos diag.Pos
	// Comments are the XML comments just before the element; Trailing those
	// after its last child. plinth sdf fmt keeps them.
	Comments []string
	Trailing []string
}

// Attr is one attribute.
type Attr struct {
	Name  string
	Value string
	Pos   diag.Pos // of the attribute's name
}

// Attr returns the attribute named name.
func (e *Element) Attr(name string) (Attr, bool) {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// At is the position of attribute name, or of the element when absent.
func (e *Element) At(name string) diag.Pos {
	if a, ok := e.Attr(name); ok {
		return a.Pos
	}
	return e.Pos
}

// lineIndex converts byte offsets to lines and columns.
type lineIndex struct {
	file   string
	starts []int
	data   []byte
	// The last position asked for: offsets mostly come in increasing
	// order, so a column is counted on from there, not from the line's
	// start (which made a system written on one line quadratic).
	lastOff, lastLine, lastCol int
}

func newLineIndex(file string, data []byte) *lineIndex {
	li := &lineIndex{file: file, starts: []int{0}, data: data}
	for i, b := range data {
		if b == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

func (li *lineIndex) pos(off int) diag.Pos {
	lo, hi := 0, len(li.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	// Columns count characters, as roxmltree's do.
	var col int
	if li.lastLine == lo+1 && li.lastOff <= off {
		col = li.lastCol + utf8.RuneCount(li.data[li.lastOff:off])
	} else {
		col = utf8.RuneCount(li.data[li.starts[lo]:off]) + 1
	}
	li.lastOff, li.lastLine, li.lastCol = off, lo+1, col
	return diag.Pos{File: li.file, Line: lo + 1, Col: col}
}

// parseXML reads an XML document into Elements. Well-formedness errors come
// back as a single diagnostic with the place the parser stopped.
func parseXML(file string, data []byte) (*Element, *diag.Diagnostic) {
	// A UTF-8 byte-order mark is no part of the document (the Microkit
	// tool's parser skips it too).
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	li := newLineIndex(file, data)
	data, bad := blankDeclaration(file, data)
	if bad != nil {
		return nil, bad
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *Element
	var stack []*Element
	var pending []string // comments not yet attached to an element
	for {
		start := int(dec.InputOffset())
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			msg := err.Error()
			var se *xml.SyntaxError
			p := li.pos(int(dec.InputOffset()))
			if errors.As(err, &se) {
				msg = se.Msg
				p = diag.Pos{File: file, Line: se.Line, Col: 1}
			}
			return nil, &diag.Diagnostic{Pos: p, Message: "not well-formed XML: " + msg}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			// The tag starts at '<', after any whitespace the offset still includes.
			tagStart := start + bytes.IndexByte(data[start:], '<')
			el := &Element{Name: qualified(t.Name), Pos: li.pos(tagStart), Comments: pending}
			pending = nil
			end := int(dec.InputOffset())
			raw := data[tagStart:end]
			for _, a := range t.Attr {
				name := qualified(a.Name)
				if _, dup := el.Attr(name); dup {
					return nil, &diag.Diagnostic{Pos: li.pos(tagStart), Message: fmt.Sprintf("not well-formed XML: attribute %q given twice", name)}
				}
				el.Attrs = append(el.Attrs, Attr{Name: name, Value: a.Value, Pos: li.pos(tagStart + attrOffset(raw, name))})
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, &diag.Diagnostic{Pos: el.Pos, Message: "not well-formed XML: more than one root element"}
				}
				root = el
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, el)
			}
			stack = append(stack, el)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].Name != qualified(t.Name) {
				return nil, &diag.Diagnostic{Pos: li.pos(start), Message: "not well-formed XML: unexpected end tag </" + qualified(t.Name) + ">"}
			}
			top := stack[len(stack)-1]
			top.Trailing, pending = pending, nil
			stack = stack[:len(stack)-1]
		case xml.Comment:
			pending = append(pending, string(t))
		case xml.CharData:
			if len(stack) > 0 && strings.TrimSpace(string(t)) != "" {
				top := stack[len(stack)-1]
				if top.Text == "" {
					lead := len(t) - len(bytes.TrimLeft(t, " \t\r\n"))
					top.TextPos = li.pos(start + lead)
				}
				top.Text += strings.TrimSpace(string(t))
			} else if len(stack) == 0 && strings.TrimSpace(string(t)) != "" {
				return nil, &diag.Diagnostic{Pos: li.pos(start), Message: "not well-formed XML: text outside the root element"}
			}
		}
	}
	if len(stack) > 0 {
		return nil, &diag.Diagnostic{Pos: stack[len(stack)-1].Pos, Message: "not well-formed XML: element <" + stack[len(stack)-1].Name + "> is not closed"}
	}
	if root == nil {
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: file, Line: 1, Col: 1}, Message: "not well-formed XML: no root element"}
	}
	// Comments after the root element stay at the end.
	root.Trailing = append(root.Trailing, pending...)
	return root, nil
}

var declEncoding = regexp.MustCompile(`\sencoding\s*=\s*("[^"]*"|'[^']*')`)

var declVersion = regexp.MustCompile(`^<\?xml\s+version\s*=\s*("[^"]*"|'[^']*')`)

// blankDeclaration checks the XML declaration as the Microkit tool's parser
// does — a version must be given; its value and the encoding are not looked
// at — and blanks it out, keeping every offset, for encoding/xml, which
// would refuse versions other than 1.0 and encodings other than UTF-8.
func blankDeclaration(file string, data []byte) ([]byte, *diag.Diagnostic) {
	if !bytes.HasPrefix(data, []byte("<?xml")) || len(data) < 6 || !(data[5] == ' ' || data[5] == '\t' || data[5] == '\n' || data[5] == '\r') {
		return data, nil
	}
	end := bytes.Index(data, []byte("?>"))
	if end < 0 {
		return data, nil // encoding/xml reports it
	}
	if !declVersion.Match(data[:end]) {
		return nil, &diag.Diagnostic{Pos: diag.Pos{File: file, Line: 1, Col: 7}, Message: "not well-formed XML: the XML declaration must begin with a version"}
	}
	// The file is read as UTF-8 whatever it claims; a claim of another
	// encoding is a file that lies about itself (plinth is stricter than
	// the Microkit tool here, which ignores the claim).
	if m := declEncoding.FindSubmatchIndex(data[:end]); m != nil {
		enc := strings.Trim(string(data[m[2]:m[3]]), `"'`)
		if !strings.EqualFold(enc, "UTF-8") && !strings.EqualFold(enc, "US-ASCII") {
			col := utf8.RuneCount(data[:m[2]]) + 1
			return nil, &diag.Diagnostic{Pos: diag.Pos{File: file, Line: 1, Col: col}, Message: fmt.Sprintf("the XML declaration says encoding %q, but a system description is read as UTF-8: write encoding=\"UTF-8\" or leave it out", enc)}
		}
	}
	out := append([]byte(nil), data...)
	for i := 0; i < end+2; i++ {
		if out[i] != '\n' {
			out[i] = ' '
		}
	}
	return out, nil
}

func qualified(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// attrOffset finds where attribute name is written in a raw start tag.
func attrOffset(raw []byte, name string) int {
	for i := 0; i+len(name) < len(raw); i++ {
		if (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') && bytes.HasPrefix(raw[i+1:], []byte(name)) {
			rest := bytes.TrimLeft(raw[i+1+len(name):], " \t\r\n")
			if len(rest) > 0 && rest[0] == '=' {
				return i + 1
			}
		}
	}
	return 0
}
