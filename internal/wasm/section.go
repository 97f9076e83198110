package wasm

import (
	"strconv"
)

// SectionID identifies a section. Core-module IDs are the constants below;
// in a component the same byte means something else (see [Sections]).
type SectionID byte

// Core module section IDs.
const (
	SectionCustom    SectionID = 0
	SectionType      SectionID = 1
	SectionImport    SectionID = 2
	SectionFunction  SectionID = 3
	SectionTable     SectionID = 4
	SectionMemory    SectionID = 5
	SectionGlobal    SectionID = 6
	SectionExport    SectionID = 7
	SectionStart     SectionID = 8
	SectionElement   SectionID = 9
	SectionCode      SectionID = 10
	SectionData      SectionID = 11
	SectionDataCount SectionID = 12
	SectionTag       SectionID = 13
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "datacount", "tag"}

// String returns the spec name of a core section ID ("import", "code", ...).
func (id SectionID) String() string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return "unknown(" + strconv.Itoa(int(id)) + ")"
}

// Kind says what a binary is.
type Kind int

// Kinds of binaries.
const (
	KindUnknown   Kind = iota // not "\0asm" or unknown version
	KindModule                // core module, version 1
	KindComponent             // component model binary (version 0x0d, layer 1)
)

// HeaderSize is the size of the magic + version header.
const HeaderSize = 8

var (
	moduleHeader    = [8]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	componentHeader = [8]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}
)

// KindOf classifies bin by its 8-byte header.
func KindOf(bin []byte) Kind {
	if len(bin) < HeaderSize {
		return KindUnknown
	}
	switch [8]byte(bin[:8]) {
	case moduleHeader:
		return KindModule
	case componentHeader:
		return KindComponent
	}
	return KindUnknown
}

// IsComponent reports whether bin starts with a component-model header.
func IsComponent(bin []byte) bool { return KindOf(bin) == KindComponent }

// checkHeader returns the kind or an *Error explaining why the header is bad.
func checkHeader(bin []byte) (Kind, error) {
	if len(bin) < 4 {
		return KindUnknown, errAt(len(bin), "header", ErrUnexpectedEnd)
	}
	if bin[0] != 0 || bin[1] != 'a' || bin[2] != 's' || bin[3] != 'm' {
		return KindUnknown, errAt(0, "header", ErrNotWasm)
	}
	if len(bin) < HeaderSize {
		return KindUnknown, errAt(len(bin), "header", ErrUnexpectedEnd)
	}
	k := KindOf(bin)
	if k == KindUnknown {
		return k, errAt(4, "header", ErrVersion)
	}
	return k, nil
}

// Section is one section of a binary as it appears in the file. All slices
// alias the input.
type Section struct {
	ID SectionID
	// Name is the custom section's name (ID 0 only).
	Name string
	// Offset is the offset of the section's first byte (the ID byte).
	Offset int
	// PayloadOffset is the offset of the payload's first byte (after the
	// size LEB128).
	PayloadOffset int
	// Payload is the section's content, exactly size bytes. For a custom
	// section it includes the encoded name.
	Payload []byte
	// Raw is the whole section as in the file: ID byte, size, payload.
	Raw []byte
	// DataOffset and Data are the custom section's content after its name;
	// for other sections they equal PayloadOffset and Payload.
	DataOffset int
	Data       []byte
}

// End returns the offset just past the section.
func (s *Section) End() int { return s.PayloadOffset + len(s.Payload) }

// Sections checks the header of bin (core module or component) and splits
// the rest into sections, in file order. It checks only the framing: each
// section's size fits the input and each custom section's name is a valid
// length-prefixed UTF-8 string. It does not check section order or content.
// For a component, IDs are component section IDs (0 is still custom).
func Sections(bin []byte) ([]Section, error) {
	if _, err := checkHeader(bin); err != nil {
		return nil, err
	}
	var out []Section
	r := reader{buf: bin, pos: HeaderSize}
	for !r.eof() {
		s, err := nextSection(&r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// nextSection reads one section header at r and advances past the section.
// Offsets in the Section are r's (its base added).
func nextSection(r *reader) (Section, error) {
	start := r.pos
	id, _ := r.byte("section")
	size, err := r.u32("section size")
	if err != nil {
		return Section{}, err
	}
	payloadStart := r.pos
	if int(size) > r.remaining() {
		return Section{}, errfAt(r.base+start, SectionID(id).String()+" section",
			"size %d exceeds the %d bytes left", size, r.remaining())
	}
	r.pos += int(size)
	s := Section{
		ID:            SectionID(id),
		Offset:        r.base + start,
		PayloadOffset: r.base + payloadStart,
		Payload:       r.buf[payloadStart:r.pos:r.pos],
		Raw:           r.buf[start:r.pos:r.pos],
		DataOffset:    r.base + payloadStart,
	}
	s.Data = s.Payload
	if id == 0 {
		cr := reader{buf: s.Payload, base: s.PayloadOffset}
		name, err := cr.nameBytes("custom section name")
		if err != nil {
			return Section{}, err
		}
		s.Name = string(name)
		s.DataOffset = s.PayloadOffset + cr.pos
		s.Data = s.Payload[cr.pos:]
	}
	return s, nil
}
