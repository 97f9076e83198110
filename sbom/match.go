package sbom

// matcher is an Aho-Corasick automaton over bytes, compiled to a dense
// transition table: scanning costs one table load per input byte whatever
// the number of patterns, and nothing backtracks.
type matcher struct {
	delta []int32 // state*256 + byte -> next state
	// out lists, for each state, the patterns that end there (their
	// indexes), the state's own and those reachable by failure links.
	out [][]int32
	// term marks the states with outputs, so that the scan loop touches
	// out only on a match.
	term []bool
	// lens holds each pattern's length.
	lens []int
}

// newMatcher compiles the patterns. Empty patterns are never reported.
func newMatcher(patterns []string) *matcher {
	type node struct {
		next map[byte]int32
		fail int32
		out  []int32
	}
	nodes := []node{{next: map[byte]int32{}}}
	lens := make([]int, len(patterns))
	for pi, p := range patterns {
		lens[pi] = len(p)
		if p == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			n, ok := nodes[s].next[p[i]]
			if !ok {
				nodes = append(nodes, node{next: map[byte]int32{}})
				n = int32(len(nodes) - 1)
				nodes[s].next[p[i]] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, int32(pi))
	}
	m := &matcher{delta: make([]int32, len(nodes)*256), out: make([][]int32, len(nodes)), term: make([]bool, len(nodes)), lens: lens}
	// Breadth-first: a state's failure target is shallower, so its
	// transitions and outputs are complete when the state is reached.
	queue := make([]int32, 0, len(nodes))
	for b := 0; b < 256; b++ {
		if n, ok := nodes[0].next[byte(b)]; ok {
			m.delta[b] = n
			queue = append(queue, n)
		}
	}
	m.out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		m.out[s] = append(append([]int32(nil), nodes[s].out...), m.out[f]...)
		m.term[s] = len(m.out[s]) > 0
		for b := 0; b < 256; b++ {
			if n, ok := nodes[s].next[byte(b)]; ok {
				nodes[n].fail = m.delta[int(f)*256+b]
				m.delta[int(s)*256+b] = n
				queue = append(queue, n)
			} else {
				m.delta[int(s)*256+b] = m.delta[int(f)*256+b]
			}
		}
	}
	return m
}

// scan calls fn with the pattern index and start offset of every match in
// b, in order of their end. The scan starts as if b were preceded by a NUL
// byte, so a pattern that begins with NUL also matches at b's start (with
// start -1): strings in data segments are NUL-delimited and a segment can
// begin with one. fn returns false to stop.
func (m *matcher) scan(b []byte, fn func(pat, start int) bool) {
	s := m.delta[0] // after a virtual NUL
	delta, term := m.delta, m.term
	for i, c := range b {
		s = delta[int(s)<<8|int(c)]
		if !term[s] {
			continue
		}
		for _, p := range m.out[s] {
			if !fn(int(p), i+1-m.lens[p]) {
				return
			}
		}
	}
}
