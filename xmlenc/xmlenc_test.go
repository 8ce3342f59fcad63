package xmlenc

import (
	"bytes"
	"encoding/xml"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The oracle: what encoding/xml writes for the same call.
func stdlib(t *testing.T, v any, start xml.StartElement) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	err := xml.NewEncoder(&buf).EncodeElement(v, start)
	return buf.String(), err
}

func same(t *testing.T, v any, start xml.StartElement) {
	t.Helper()
	want, wantErr := stdlib(t, v, start)
	got, err := Append([]byte("prefix"), v, start)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%T: error %v, encoding/xml's %v", v, err, wantErr)
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("%T: the buffer's start was lost: %q", v, got)
	}
	if string(got[len("prefix"):]) != want {
		t.Fatalf("%T:\n got %s\nwant %s", v, got[len("prefix"):], want)
	}
}

var respStart = xml.StartElement{
	Name: xml.Name{Local: "DescribeThingsResponse"},
	Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "http://ec2.amazonaws.com/doc/2016-11-15/"}},
}

type meta struct {
	RequestID string `xml:"requestId"`
}

type Meta struct {
	Marker string `xml:"marker,omitempty"`
}

type tagItem struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type state struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type itemSet[T any] struct {
	Items []T `xml:"item"`
}

type thing struct {
	ID       string            `xml:"thingId"`
	Note     string            `xml:"note,omitempty"`
	State    state             `xml:"thingState"`
	Ptr      *state            `xml:"previousState"`
	Tags     []tagItem         `xml:"tagSet>item"`
	Opt      []tagItem         `xml:"optSet>item,omitempty"`
	Names    []string          `xml:"nameSet>item>name"`
	NameOpt  []string          `xml:"names>item,omitempty"`
	Ptrs     []*state          `xml:"stateSet>item"`
	Zone     string            `xml:"placement>availabilityZone"`
	Tenancy  string            `xml:"placement>tenancy,omitempty"`
	Group    string            `xml:"placement>groupName"`
	Between  bool              `xml:"between"`
	Again    string            `xml:"placement>hostId,omitempty"`
	Deep     string            `xml:"a>b>c"`
	Deeper   string            `xml:"a>b>d>e"`
	Up       string            `xml:"a>f"`
	Nested   *itemSet[tagItem] `xml:"nested"`
	Wrapped  *state            `xml:"wrap>inner"`
	WrapMore string            `xml:"wrap>more"`
	Lonely   *state            `xml:"lonely>inner"`
	Count    *int              `xml:"count"`
	Flag     *bool             `xml:"flag,omitempty"`
	Size     int64             `xml:"size,omitempty"`
	Unsigned uint16            `xml:"unsigned"`
	Ratio    float64           `xml:"ratio"`
	Small    float32           `xml:"small,omitempty"`
	Untagged string
	Parent   string `xml:">alone"`
	hidden   string //nolint:unused // unexported fields are never written
	Skipped  string `xml:"-"`
	Attr     string `xml:"kind,attr"`
	AttrOpt  string `xml:"opt,attr,omitempty"`
	AttrInt  *int   `xml:"n,attr"`
}

type response struct {
	meta
	Meta
	Things  []thing `xml:"thingSet>item"`
	Next    string  `xml:"nextToken,omitempty"`
	Generic itemSet[string]
	Return  bool `xml:"return"`
}

type named struct {
	XMLName xml.Name `xml:"Named"`
	Value   string   `xml:"value"`
}

func fixed() *response {
	n, yes := 7, true
	return &response{
		meta: meta{RequestID: "r-1"},
		Things: []thing{{
			ID: "i-1", Note: `a "quoted" <note> & 'more'` + "\t\n\r\x01\xff\uFFFD\U0001F600", State: state{16, "running"},
			Ptr: &state{0, "pending"}, Tags: []tagItem{{"Name", "web"}, {"", ""}}, Names: []string{"x", ""},
			NameOpt: []string{"", "kept", ""}, Ptrs: []*state{nil, {80, "stopped"}, nil},
			Zone: "us-east-1a", Group: "", Between: true, Deep: "c", Deeper: "e", Up: "f",
			Nested: &itemSet[tagItem]{Items: []tagItem{{"k", "v"}}}, Count: &n, Flag: &yes, Size: -3,
			Unsigned: 65535, Ratio: 0.1, Small: 1e-7, Untagged: "u", Parent: "p", hidden: "never", Skipped: "never",
			Attr: `a&"b"`, AttrInt: &n,
		}, {}},
		Next: "tok", Generic: itemSet[string]{Items: []string{"one"}}, Return: true,
	}
}

func TestSameAsEncodingXML(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[response](), reflect.TypeFor[named]()} {
		if _, err := planFor(typ); err != nil {
			t.Fatalf("%v: %v, want a plan (these tests would only test encoding/xml)", typ, err)
		}
	}
	same(t, fixed(), respStart)
	same(t, &response{}, respStart)
	same(t, response{}, xml.StartElement{Name: xml.Name{Local: "R"}})
	same(t, &named{Value: "v"}, respStart)
	var nilResp *response
	same(t, nilResp, respStart)
	same(t, "just <text>", xml.StartElement{Name: xml.Name{Local: "s"}, Attr: []xml.Attr{{Name: xml.Name{Local: ""}, Value: "dropped"}}})
	same(t, 42, xml.StartElement{Name: xml.Name{Local: "n"}})
}

// Outside the subset, encoding/xml writes (or refuses) the whole value.
type withTime struct {
	When time.Time `xml:"when"`
}

type withIface struct {
	Any any `xml:"any"`
}

type withMap struct {
	M map[string]string `xml:"m"`
}

type withCharData struct {
	Text string `xml:",chardata"`
}

type conflict struct {
	A string `xml:"a"`
	B string `xml:"a>b"`
}

type withBytes struct {
	B []byte `xml:"b"`
}

type withPtrPtrAttr struct {
	A **int `xml:"a,attr"`
}

type withXMLNameField struct {
	Inner named `xml:"Named"`
}

func TestFallsBackOutsideSubset(t *testing.T) {
	for _, v := range []any{
		&withTime{When: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		&withIface{Any: "x"},
		&withMap{M: map[string]string{"a": "b"}},
		&withCharData{Text: "t"},
		&conflict{A: "a", B: "b"},
		&withBytes{B: []byte("<b>")},
		&withXMLNameField{Inner: named{Value: "v"}},
		&withPtrPtrAttr{},
		[]string{"a", "b"},
	} {
		if _, err := planFor(reflect.TypeOf(v)); err == nil && reflect.TypeOf(v).Kind() != reflect.Slice {
			t.Errorf("%T: planned, want it left to encoding/xml", v)
		}
		same(t, v, respStart)
	}
	same(t, fixed(), xml.StartElement{Name: xml.Name{Space: "urn:x", Local: "R"}})
	same(t, fixed(), xml.StartElement{Name: xml.Name{Local: "R"}, Attr: []xml.Attr{{Name: xml.Name{Space: "urn:y", Local: "a"}, Value: "1"}}})
}

// Random values of the test types, to catch what the fixed ones miss.
func TestRandomValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := reflect.New(reflect.TypeFor[response]())
		fill(rng, v.Elem(), 0)
		same(t, v.Interface(), respStart)
		if t.Failed() {
			t.Fatalf("value %d", i)
		}
	}
}

var alphabet = []string{"", "a", "<", ">", "&", `"`, "'", "\t", "\n", "\r", "\x00", "\xff", "é", "\uFFFD", "\U0001F600", " ", "x y"}

func fill(rng *rand.Rand, v reflect.Value, depth int) {
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		var s string
		for range rng.IntN(4) {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(rng.IntN(5)) - 2)
	case reflect.Uint16:
		v.SetUint(uint64(rng.IntN(3)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat([]float64{0, 0.5, -1e21, 3}[rng.IntN(4)])
	case reflect.Pointer:
		if rng.IntN(3) > 0 && depth < 4 {
			p := reflect.New(v.Type().Elem())
			fill(rng, p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Slice:
		if depth < 4 {
			n := rng.IntN(4)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				fill(rng, s.Index(i), depth+1)
			}
			if n > 0 || rng.IntN(2) == 0 {
				v.Set(s)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(rng, v.Field(i), depth+1)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	v := fixed()
	b.Run("xmlenc", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = Append(buf[:0], v, respStart)
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			_ = xml.NewEncoder(&buf).EncodeElement(v, respStart)
		}
	})
}

// escape writes what xml.EscapeText does, for every byte alone and next
// to ASCII, and for runes at the edges of XML's character range.
func TestEscapeAsEncodingXML(t *testing.T) {
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	inputs = append(inputs, "\uD7FF", "\uE000", "\uFFFD", "\uFFFE", "\U00010000", "\U0010FFFF", "\xed\xa0\x80", "é<é>", "plain text, no escapes")
	for _, in := range inputs {
		var want bytes.Buffer
		if err := xml.EscapeText(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := escape(nil, in); string(got) != want.String() {
			t.Errorf("escape(%q): got %q, want %q", in, got, want.String())
		}
	}
}

type label string

// numbers has a field of every width, each read from memory by its size.
type numbers struct {
	I8    int8    `xml:"i8"`
	I16   int16   `xml:"i16"`
	I32   int32   `xml:"i32,attr"`
	I64   int64   `xml:"i64"`
	I     int     `xml:"i"`
	U8    uint8   `xml:"u8"`
	U16   uint16  `xml:"u16"`
	U32   uint32  `xml:"u32"`
	U64   uint64  `xml:"u64"`
	U     uint    `xml:"u"`
	Ptr   uintptr `xml:"ptr"`
	F32   float32 `xml:"f32"`
	F64   float64 `xml:"f64,omitempty"` // -0 is empty, NaN is not
	Label label   `xml:"label"`
	Opt8  int8    `xml:"opt8,omitempty"`
}

func TestNumberWidths(t *testing.T) {
	if _, err := planFor(reflect.TypeFor[numbers]()); err != nil {
		t.Fatalf("numbers: %v, want a plan", err)
	}
	same(t, &numbers{
		I8: math.MinInt8, I16: math.MinInt16, I32: math.MinInt32, I64: math.MinInt64, I: math.MinInt,
		U8: math.MaxUint8, U16: math.MaxUint16, U32: math.MaxUint32, U64: math.MaxUint64, U: math.MaxUint, Ptr: 1 << 40,
		F32: -1.5e-7, F64: math.Copysign(0, -1), Label: "a<b", Opt8: -1,
	}, respStart)
	same(t, &numbers{I8: math.MaxInt8, I16: math.MaxInt16, I32: math.MaxInt32, I64: math.MaxInt64, I: math.MaxInt, F32: float32(math.Inf(1)), F64: math.NaN()}, respStart)
	same(t, numbers{I8: -1, U8: 1}, respStart) // a value, not behind a pointer
}
