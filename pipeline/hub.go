package pipeline

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Hub is the network of a deployment run: each system's emulator connects
// its network device to a port of its own (QEMU's socket network: every
// frame is a 4-byte big-endian length and the frame), and a frame a
// system sends goes to the systems it has a link to, and nowhere else.
type Hub struct {
	mu        sync.Mutex
	listeners map[string]net.Listener
	conns     map[string]net.Conn
	links     map[string][]string // from -> to
	counts    map[[2]string]*atomic.Int64
	wg        sync.WaitGroup
}

// NewHub opens a port on 127.0.0.1 for each system; links[from] lists the
// systems from may send to.
func NewHub(systems []string, links map[string][]string) (*Hub, error) {
	h := &Hub{listeners: map[string]net.Listener{}, conns: map[string]net.Conn{}, links: links, counts: map[[2]string]*atomic.Int64{}}
	for from, tos := range links {
		for _, to := range tos {
			h.counts[[2]string{from, to}] = new(atomic.Int64)
		}
	}
	for _, s := range systems {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			h.Close()
			return nil, err
		}
		h.listeners[s] = l
		h.wg.Add(1)
		go h.accept(s, l)
	}
	return h, nil
}

// Addr is where a system's emulator connects.
func (h *Hub) Addr(system string) string { return h.listeners[system].Addr().String() }

// Frames is how many frames went from one system to another.
func (h *Hub) Frames(from, to string) int64 {
	if c := h.counts[[2]string{from, to}]; c != nil {
		return c.Load()
	}
	return 0
}

// accept takes a system's connections, one at a time (a restarted
// emulator connects again), and forwards what it sends.
func (h *Hub) accept(system string, l net.Listener) {
	defer h.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if old := h.conns[system]; old != nil {
			old.Close()
		}
		h.conns[system] = c
		h.mu.Unlock()
		h.wg.Add(1)
		go h.forward(system, c)
	}
}

func (h *Hub) forward(from string, c net.Conn) {
	defer h.wg.Done()
	var head [4]byte
	for {
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[:])
		if n > 65536 {
			return
		}
		frame := make([]byte, 4+n)
		copy(frame, head[:])
		if _, err := io.ReadFull(c, frame[4:]); err != nil {
			return
		}
		for _, to := range h.links[from] {
			// One write at a time: several systems may send to one.
			h.mu.Lock()
			if dst := h.conns[to]; dst != nil {
				if _, err := dst.Write(frame); err == nil {
					h.counts[[2]string{from, to}].Add(1)
				}
			}
			h.mu.Unlock()
		}
	}
}

// Close stops listening and drops every connection.
func (h *Hub) Close() error {
	h.mu.Lock()
	for _, l := range h.listeners {
		l.Close()
	}
	for _, c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// String says what went where, for a run's summary.
func (h *Hub) String() string {
	var parts []string
	for k, c := range h.counts {
		parts = append(parts, fmt.Sprintf("%s → %s: %d frames", k[0], k[1], c.Load()))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}
