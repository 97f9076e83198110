// Package dsse implements the Dead Simple Signing Envelope (DSSE v1): the
// pre-authentication encoding that is signed, and the JSON envelope.
package dsse

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wasmward/wasmward/trust/internal/strictjson"
)

// Envelope is a DSSE envelope as JSON carries it.
type Envelope struct {
	Payload     string      `json:"payload"` // standard base64
	PayloadType string      `json:"payloadType"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope.
type Signature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   string `json:"sig"` // standard base64
}

// PAE returns the pre-authentication encoding of payloadType and payload:
// "DSSEv1" SP len(type) SP type SP len(body) SP body.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, 32+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Parse decodes an envelope and its payload. It refuses an envelope without
// payload type or signatures, base64 that does not decode, and a key given
// twice in any object (also in another letter case).
func Parse(data []byte) (*Envelope, []byte, error) {
	// encoding/json lets a repeated or case-variant key win silently; a
	// signed document must not mean two things to two readers.
	if err := strictjson.Unique(data); err != nil {
		return nil, nil, fmt.Errorf("dsse envelope: %w", err)
	}
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, nil, fmt.Errorf("dsse envelope: %w", err)
	}
	if e.PayloadType == "" {
		return nil, nil, errors.New("dsse envelope: no payloadType")
	}
	if len(e.Signatures) == 0 {
		return nil, nil, errors.New("dsse envelope: no signatures")
	}
	payload, err := decodeB64(e.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("dsse envelope: payload: %w", err)
	}
	return &e, payload, nil
}

// DecodeSig decodes a signature's bytes.
func (s Signature) DecodeSig() ([]byte, error) { return decodeB64(s.Sig) }

// decodeB64 accepts standard and URL-safe base64, padded or not, as the DSSE
// specification asks of readers.
func decodeB64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}
