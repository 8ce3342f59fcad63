// Package xmlenc writes a value as XML exactly as encoding/xml's
// Encoder.EncodeElement would, byte for byte, for the plain structs EC2
// responses are made of: exported fields, tag names with a>b parent
// chains, omitempty and attr, untagged embedded structs, and strings,
// bools, numbers, pointers and slices of them.
//
// encoding/xml inspects every value afresh (reflection, marshaler checks,
// a namespace stack); here each type is studied once into a plan, which
// holds each field's offset and size, so writing a value reads its memory
// directly instead of through reflect.Value (which was half of the
// writing). Any type outside that subset (a marshaler, an interface, a
// map, other tag flags) is handed to encoding/xml whole, so the output is
// always what it would write.
package xmlenc

import (
	"bytes"
	"encoding"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Append appends v's XML to dst as Encoder.EncodeElement(v, start) writes
// it, and returns the extended buffer.
func Append(dst []byte, v any, start xml.StartElement) ([]byte, error) {
	val := reflect.ValueOf(v)
	for val.Kind() == reflect.Pointer || val.Kind() == reflect.Interface {
		if val.IsNil() {
			return dst, nil
		}
		val = val.Elem()
	}
	if !val.IsValid() || start.Name.Local == "" || start.Name.Space != "" || !plainAttrs(start.Attr) {
		return fallback(dst, v, start)
	}
	p, err := planFor(val.Type())
	if err != nil || p.kind == kSlice {
		return fallback(dst, v, start)
	}
	if !val.CanAddr() { // a value, not behind a pointer: write a copy
		c := reflect.New(val.Type()).Elem()
		c.Set(val)
		val = c
	}
	t := newTag(start.Name.Local)
	return element(dst, val.Addr().UnsafePointer(), p, &t, start.Attr), nil
}

func fallback(dst []byte, v any, start xml.StartElement) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	err := xml.NewEncoder(buf).EncodeElement(v, start)
	return buf.Bytes(), err
}

// plainAttrs reports whether attributes need no namespace prefixes.
func plainAttrs(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if a.Name.Space != "" {
			return false
		}
	}
	return true
}

type kind uint8

const (
	kString kind = iota
	kBool
	kInt
	kUint
	kFloat
	kStruct
	kSlice
)

// plan is how to write one type, pointers already followed.
type plan struct {
	kind kind
	size uintptr // kInt, kUint, kFloat: the value's size in bytes
	// kSlice: the elements' plan (pointers followed), and the elements as
	// stored: their size and the pointers before their value
	elem     *plan
	elemSize uintptr
	elemPtrs int
	attrs    []field // kStruct
	elems    []field // kStruct, in declaration order
}

type field struct {
	offset    uintptr // from the start of the struct, embedded ones included
	ptrs      int     // pointers between the field and its value
	name      string
	tag       tag   // name's, for the element
	parents   []tag // the a>b chain's elements around it
	omitEmpty bool
	plan      *plan
}

// tag is an element's name with its start and end tags written out.
type tag struct{ name, start, end string }

func newTag(name string) tag { return tag{name, "<" + name + ">", "</" + name + ">"} }

var (
	plans             sync.Map // reflect.Type → *plan, or errUnsupported
	errUnsupported    = errors.New("xmlenc: type outside the supported subset")
	marshalerType     = reflect.TypeFor[xml.Marshaler]()
	attrMarshalerType = reflect.TypeFor[xml.MarshalerAttr]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	nameType          = reflect.TypeFor[xml.Name]()
)

func planFor(t reflect.Type) (*plan, error) {
	if v, ok := plans.Load(t); ok {
		if p, ok := v.(*plan); ok {
			return p, nil
		}
		return nil, errUnsupported
	}
	p, err := build(t, map[reflect.Type]*plan{})
	if err != nil {
		plans.Store(t, err)
		return nil, err
	}
	plans.Store(t, p)
	return p, nil
}

// build makes t's plan; building guards against recursive types.
func build(t reflect.Type, building map[reflect.Type]*plan) (*plan, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := building[t]; ok {
		return p, nil
	}
	if customMarshal(t) {
		return nil, errUnsupported
	}
	p := &plan{}
	switch t.Kind() {
	case reflect.String:
		p.kind = kString
	case reflect.Bool:
		p.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind, p.size = kInt, t.Size()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind, p.size = kUint, t.Size()
	case reflect.Float32, reflect.Float64:
		p.kind, p.size = kFloat, t.Size()
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, errUnsupported // []byte is text, not a list
		}
		p.kind = kSlice
		building[t] = p
		elem, err := build(t.Elem(), building)
		if err != nil {
			return nil, err
		}
		if elem.kind == kSlice {
			return nil, errUnsupported
		}
		p.elem, p.elemSize, p.elemPtrs = elem, t.Elem().Size(), pointers(t.Elem())
	case reflect.Struct:
		if t == nameType {
			return nil, errUnsupported
		}
		p.kind = kStruct
		building[t] = p
		if err := p.addFields(t, 0, building); err != nil {
			return nil, err
		}
	default:
		return nil, errUnsupported
	}
	return p, nil
}

func customMarshal(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, m := range []reflect.Type{marshalerType, attrMarshalerType, textMarshalerType} {
		if t.Implements(m) || pt.Implements(m) {
			return true
		}
	}
	return false
}

// pointers is how many pointers t is before its value.
func pointers(t reflect.Type) int {
	n := 0
	for ; t.Kind() == reflect.Pointer; t = t.Elem() {
		n++
	}
	return n
}

// addFields adds struct t's fields (t at offset within the outermost
// struct) to p, as encoding/xml's typeinfo orders them.
func (p *plan) addFields(t reflect.Type, offset uintptr, building map[reflect.Type]*plan) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("xml")
		if (!f.IsExported() && !f.Anonymous) || tag == "-" {
			continue
		}
		if f.Anonymous {
			// embedded by value only: its fields are at offsets within this struct
			if hasTag || f.Type.Kind() != reflect.Struct {
				return errUnsupported
			}
			if err := p.addFields(f.Type, offset+f.Offset, building); err != nil {
				return err
			}
			continue
		}
		if f.Name == "XMLName" {
			if f.Type != nameType {
				return errUnsupported
			}
			continue // names the element only when encoded alone; Append passes a name
		}
		name, flags, _ := strings.Cut(tag, ",")
		fd := field{offset: offset + f.Offset, ptrs: pointers(f.Type)}
		attr := false
		for _, flag := range strings.Split(flags, ",") {
			switch flag {
			case "":
			case "omitempty":
				fd.omitEmpty = true
			case "attr":
				attr = true
			default:
				return errUnsupported
			}
		}
		if strings.ContainsAny(name, " :") || hasXMLName(f.Type) {
			return errUnsupported
		}
		if name == "" {
			name = f.Name
		}
		chain := strings.Split(name, ">")
		if chain[0] == "" {
			chain[0] = f.Name
		}
		fd.name, fd.tag = chain[len(chain)-1], newTag(chain[len(chain)-1])
		for _, parent := range chain[:len(chain)-1] {
			fd.parents = append(fd.parents, newTag(parent))
		}
		if fd.name == "" || (attr && len(fd.parents) > 0) {
			return errUnsupported
		}
		fp, err := build(f.Type, building)
		if err != nil {
			return err
		}
		fd.plan = fp
		if attr {
			// encoding/xml follows one pointer for an attribute, not more.
			if fp.kind == kStruct || fp.kind == kSlice || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Pointer {
				return errUnsupported
			}
			p.attrs = append(p.attrs, fd)
			continue
		}
		for _, other := range p.elems {
			if overlaps(other, fd) {
				return errUnsupported // encoding/xml's conflict rules apply
			}
		}
		p.elems = append(p.elems, fd)
	}
	return nil
}

func hasXMLName(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	_, ok := t.FieldByName("XMLName")
	return ok
}

// overlaps reports whether one field's path (parents and name) is the
// other's or leads into it, which encoding/xml resolves or rejects.
func overlaps(a, b field) bool {
	pa, pb := append(append([]tag(nil), a.parents...), a.tag), append(append([]tag(nil), b.parents...), b.tag)
	if len(pa) > len(pb) {
		pa, pb = pb, pa
	}
	for i := range pa {
		if pa[i].name != pb[i].name {
			return false
		}
	}
	return true
}

// The writing functions take the buffer and return it extended, as
// strconv's Append functions do: the buffer lives in a local variable, so
// growing it needs no write barrier while the collector runs. Values are
// given by their address; the plan says what is there.

// value writes the field f at ptr, as marshalValue does: a slice is its
// elements in turn, omitempty applying to each.
func value(buf []byte, ptr unsafe.Pointer, f *field) []byte {
	ptr, ok := present(ptr, f.ptrs, f.plan, f.omitEmpty)
	if !ok {
		return buf
	}
	p := f.plan
	if p.kind != kSlice {
		return element(buf, ptr, p, &f.tag, nil)
	}
	s := *(*[]byte)(ptr) // any slice's header: its data and length
	data := unsafe.Pointer(unsafe.SliceData(s))
	for i := range len(s) {
		if e, ok := present(unsafe.Add(data, uintptr(i)*p.elemSize), p.elemPtrs, p.elem, f.omitEmpty); ok {
			buf = element(buf, e, p.elem, &f.tag, nil)
		}
	}
	return buf
}

// present is the address of the value at ptr (ptrs pointers before a
// value of plan p) as written: false when omitempty leaves it out or a nil
// pointer stands for it.
func present(ptr unsafe.Pointer, ptrs int, p *plan, omitEmpty bool) (unsafe.Pointer, bool) {
	if omitEmpty && isEmpty(ptr, ptrs, p) {
		return nil, false
	}
	for range ptrs {
		if ptr = *(*unsafe.Pointer)(ptr); ptr == nil {
			return nil, false
		}
	}
	return ptr, true
}

// isEmpty is encoding/xml's isEmptyValue of what is at ptr.
func isEmpty(ptr unsafe.Pointer, ptrs int, p *plan) bool {
	if ptrs > 0 {
		return *(*unsafe.Pointer)(ptr) == nil
	}
	switch p.kind {
	case kString:
		return len(*(*string)(ptr)) == 0
	case kSlice:
		return len(*(*[]byte)(ptr)) == 0
	case kBool:
		return !*(*bool)(ptr)
	case kInt, kUint:
		return bits(ptr, p.size) == 0
	case kFloat: // == 0: -0 is empty too
		if p.size == 4 {
			return *(*float32)(ptr) == 0
		}
		return *(*float64)(ptr) == 0
	}
	return false
}

// bits is the size-byte number at ptr, as its bits.
func bits(ptr unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(ptr))
	case 2:
		return uint64(*(*uint16)(ptr))
	case 4:
		return uint64(*(*uint32)(ptr))
	}
	return *(*uint64)(ptr)
}

// element writes <name attrs…>content</name>.
func element(buf []byte, ptr unsafe.Pointer, p *plan, t *tag, attrs []xml.Attr) []byte {
	if len(attrs) == 0 && len(p.attrs) == 0 {
		buf = append(buf, t.start...)
	} else {
		buf = startWithAttrs(buf, ptr, p, t.name, attrs)
	}
	if p.kind == kStruct {
		buf = fields(buf, ptr, p)
	} else {
		buf = text(buf, ptr, p)
	}
	return append(buf, t.end...)
}

// startWithAttrs writes <name attrs…>.
func startWithAttrs(buf []byte, ptr unsafe.Pointer, p *plan, name string, attrs []xml.Attr) []byte {
	buf = append(buf, '<')
	buf = append(buf, name...)
	for _, a := range attrs {
		if a.Name.Local == "" {
			continue
		}
		buf = attrStart(buf, a.Name.Local)
		buf = escape(buf, a.Value)
		buf = append(buf, '"')
	}
	if p.kind == kStruct {
		for i := range p.attrs {
			f := &p.attrs[i]
			fv, ok := present(unsafe.Add(ptr, f.offset), f.ptrs, f.plan, f.omitEmpty)
			if !ok {
				continue
			}
			buf = attrStart(buf, f.name)
			buf = text(buf, fv, f.plan)
			buf = append(buf, '"')
		}
	}
	return append(buf, '>')
}

func attrStart(buf []byte, name string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, name...)
	return append(buf, `="`...)
}

// fields writes the elements of the struct at ptr, opening and closing
// shared parent elements as marshalStruct's parentStack does.
func fields(buf []byte, ptr unsafe.Pointer, p *plan) []byte {
	var stack [4]*tag // deeper nesting grows it on the heap
	open := stack[:0]
	for i := range p.elems {
		f := &p.elems[i]
		fptr := unsafe.Add(ptr, f.offset)
		split := 0
		for split < len(f.parents) && split < len(open) && f.parents[split].name == open[split].name {
			split++
		}
		buf, open = closeTo(buf, open, split)
		// a nil pointer writes neither itself nor its parents
		if len(f.parents) > len(open) && !(f.ptrs > 0 && *(*unsafe.Pointer)(fptr) == nil) {
			for j := len(open); j < len(f.parents); j++ {
				buf = append(buf, f.parents[j].start...)
				open = append(open, &f.parents[j])
			}
		}
		buf = value(buf, fptr, f)
	}
	buf, _ = closeTo(buf, open, 0)
	return buf
}

func closeTo(buf []byte, open []*tag, depth int) ([]byte, []*tag) {
	for i := len(open) - 1; i >= depth; i-- {
		buf = append(buf, open[i].end...)
	}
	return buf, open[:depth]
}

// text writes the scalar at ptr as marshalSimple formats it, escaped.
// Only strings can hold characters that need escaping.
func text(buf []byte, ptr unsafe.Pointer, p *plan) []byte {
	switch p.kind {
	case kString:
		return escape(buf, *(*string)(ptr))
	case kBool:
		return strconv.AppendBool(buf, *(*bool)(ptr))
	case kInt: // sign-extended from its size
		shift := 64 - 8*p.size
		return strconv.AppendInt(buf, int64(bits(ptr, p.size)<<shift)>>shift, 10)
	case kUint:
		return strconv.AppendUint(buf, bits(ptr, p.size), 10)
	case kFloat:
		if p.size == 4 {
			return strconv.AppendFloat(buf, float64(*(*float32)(ptr)), 'g', -1, 32)
		}
		return strconv.AppendFloat(buf, *(*float64)(ptr), 'g', -1, 64)
	}
	return buf
}

// escape appends s escaped as encoding/xml's EscapeString does. ASCII,
// nearly all of any answer, is looked up in a table; only other bytes are
// decoded as UTF-8.
func escape(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && plainByte[s[i]] {
		i++
	}
	if i == len(s) { // the common case: nothing to escape
		return append(dst, s...)
	}
	last := 0
	for i < len(s) {
		var esc string
		width := 1
		if c := s[i]; c < utf8.RuneSelf {
			if esc = asciiEscapes[c]; esc == "" {
				i++
				continue
			}
		} else {
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if inCharacterRange(r) && (r != utf8.RuneError || width > 1) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += width
		last = i
	}
	return append(dst, s[last:]...)
}

// asciiEscapes is what escape writes for each ASCII byte, "" for itself.
var asciiEscapes = func() (t [utf8.RuneSelf]string) {
	for c := range t {
		if !inCharacterRange(rune(c)) {
			t[c] = "\uFFFD"
		}
	}
	t['"'], t['\''], t['&'], t['<'], t['>'] = "&#34;", "&#39;", "&amp;", "&lt;", "&gt;"
	t['\t'], t['\n'], t['\r'] = "&#x9;", "&#xA;", "&#xD;"
	return t
}()

// plainByte is whether a byte is ASCII written as itself.
var plainByte = func() (t [256]bool) {
	for c, esc := range asciiEscapes {
		t[c] = esc == ""
	}
	return t
}()

func inCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// Check is for the tests of packages whose values Append writes: it
// reports an error unless v's type has a plan and Append writes exactly
// what encoding/xml does.
func Check(v any, start xml.StartElement) error {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	if p, err := planFor(t); err != nil || p.kind == kSlice {
		return fmt.Errorf("xmlenc: %v is left to encoding/xml", t)
	}
	got, err := Append(nil, v, start)
	if err != nil {
		return err
	}
	want, err := fallback(nil, v, start)
	if err != nil {
		return fmt.Errorf("xmlenc: encoding/xml fails where Append does not: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("xmlenc: %v written differently:\n got %s\nwant %s", t, got, want)
	}
	return nil
}
