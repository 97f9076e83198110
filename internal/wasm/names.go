package wasm

// decodeNames decodes the payload (after the section name) of a "name"
// custom section at offset off.
func decodeNames(b []byte, off int, alloc *allocBudget) (*Names, error) {
	const where = "name section"
	r := reader{buf: b, base: off, alloc: alloc}
	n := &Names{}
	last := -1
	for !r.eof() {
		start := r.off()
		id, _ := r.byte(where)
		size, err := r.u32(where)
		if err != nil {
			return nil, err
		}
		payload, err := r.bytes(int(size), where)
		if err != nil {
			return nil, err
		}
		if int(id) <= last {
			return nil, errfAt(start, where, "subsection %d out of order or duplicate", id)
		}
		last = int(id)
		sr := r.sub(payload, r.off()-len(payload))
		switch id {
		case 0:
			if n.Module, err = sr.name(where); err != nil {
				return nil, err
			}
			n.HasModule = true
		case 1:
			if n.Functions, err = nameMap(&sr, where); err != nil {
				return nil, err
			}
		case 2:
			cnt, err := vec[IndirectNames](&sr, where, 2)
			if err != nil {
				return nil, err
			}
			n.Locals = make([]IndirectNames, cnt)
			for i := range n.Locals {
				if n.Locals[i].Index, err = sr.u32(where); err != nil {
					return nil, err
				}
				if n.Locals[i].Names, err = nameMap(&sr, where); err != nil {
					return nil, err
				}
			}
		default:
			n.Other = append(n.Other, NameSubsection{ID: id, Payload: payload})
			continue
		}
		if !sr.eof() {
			return nil, errfAt(sr.off(), where, "%d bytes left in subsection %d", sr.remaining(), id)
		}
	}
	return n, nil
}

func nameMap(r *reader, where string) ([]NameAssoc, error) {
	cnt, err := vec[NameAssoc](r, where, 2)
	if err != nil {
		return nil, err
	}
	out := make([]NameAssoc, cnt)
	for i := range out {
		if out[i].Index, err = r.u32(where); err != nil {
			return nil, err
		}
		if out[i].Name, err = r.name(where); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeProducers decodes the payload (after the section name) of a
// "producers" custom section at offset off.
func decodeProducers(b []byte, off int, alloc *allocBudget) (*Producers, error) {
	const where = "producers section"
	r := reader{buf: b, base: off, alloc: alloc}
	cnt, err := vec[ProducerField](&r, where, 2)
	if err != nil {
		return nil, err
	}
	p := &Producers{Fields: make([]ProducerField, cnt)}
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Name, err = r.name(where); err != nil {
			return nil, err
		}
		vc, err := vec[ProducerValue](&r, where, 2)
		if err != nil {
			return nil, err
		}
		f.Values = make([]ProducerValue, vc)
		for j := range f.Values {
			if f.Values[j].Name, err = r.name(where); err != nil {
				return nil, err
			}
			if f.Values[j].Version, err = r.name(where); err != nil {
				return nil, err
			}
		}
	}
	if !r.eof() {
		return nil, errfAt(r.off(), where, "%d bytes left after the fields", r.remaining())
	}
	return p, nil
}
