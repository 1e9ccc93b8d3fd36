package pipeline

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// QEMU's socket network as a test speaks it: a 4-byte big-endian length,
// then the frame.
func dialHub(t *testing.T, h *Hub, system string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", h.Addr(system))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendFrame(t *testing.T, c net.Conn, frame string) {
	t.Helper()
	b := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := c.Write(append(b, frame...)); err != nil {
		t.Fatal(err)
	}
}

func readFrame(c net.Conn, wait time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return "", err
	}
	b := make([]byte, binary.BigEndian.Uint32(head[:]))
	_, err := io.ReadFull(c, b)
	return string(b), err
}

// Frames go along the links and nowhere else: the console reaches both
// vaults, each vault reaches the console, a vault never reaches the other;
// a restarted emulator's new connection takes the old one's place.
func TestTheHubCarriesFramesAlongLinksOnly(t *testing.T) {
	h, err := NewHub([]string{"console", "vault-1", "vault-2"}, map[string][]string{"console": {"vault-1", "vault-2"}, "vault-1": {"console"}, "vault-2": {"console"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	con, v1, v2 := dialHub(t, h, "console"), dialHub(t, h, "vault-1"), dialHub(t, h, "vault-2")
	time.Sleep(50 * time.Millisecond) // the hub takes the connections
	sendFrame(t, con, "command")
	for _, v := range []net.Conn{v1, v2} {
		if got, err := readFrame(v, 2*time.Second); err != nil || got != "command" {
			t.Fatalf("a vault got %q, %v", got, err)
		}
	}
	sendFrame(t, v1, "telemetry from 1")
	if got, err := readFrame(con, 2*time.Second); err != nil || got != "telemetry from 1" {
		t.Fatalf("the console got %q, %v", got, err)
	}
	if got, err := readFrame(v2, 200*time.Millisecond); err == nil {
		t.Fatalf("vault-2 got vault-1's frame %q: no link joins them", got)
	}
	// vault-1 restarts: its new connection gets what follows.
	v1.Close()
	v1 = dialHub(t, h, "vault-1")
	time.Sleep(50 * time.Millisecond)
	sendFrame(t, con, "after the restart")
	if got, err := readFrame(v1, 2*time.Second); err != nil || got != "after the restart" {
		t.Fatalf("the restarted vault got %q, %v", got, err)
	}
	if h.Frames("console", "vault-1") != 2 || h.Frames("vault-1", "console") != 1 || h.Frames("vault-1", "vault-2") != 0 {
		t.Errorf("counts: %s", h)
	}
}
