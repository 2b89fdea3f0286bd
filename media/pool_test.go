package media

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func TestNewPortPoolRange(t *testing.T) {
	tests := []struct {
		name        string
		ip          netip.Addr
		first, last int
		wantErr     bool
		wantFirst   int
		wantLast    int
	}{
		{name: "any port", ip: loopback},
		{name: "even range", ip: loopback, first: 10000, last: 20000, wantFirst: 10000, wantLast: 20000},
		{name: "odd ends rounded inwards", ip: loopback, first: 10001, last: 10009, wantFirst: 10002, wantLast: 10008},
		{name: "one even port", ip: loopback, first: 10000, last: 10000, wantFirst: 10000, wantLast: 10000},
		{name: "single odd port", ip: loopback, first: 10001, last: 10001, wantErr: true},
		{name: "reversed", ip: loopback, first: 20000, last: 10000, wantErr: true},
		{name: "zero first", ip: loopback, first: 0, last: 100, wantErr: true},
		{name: "too high", ip: loopback, first: 60000, last: 70000, wantErr: true},
		{name: "negative", ip: loopback, first: -2, last: 10, wantErr: true},
		{name: "no ip", first: 10000, last: 20000, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPortPool(tt.ip, tt.first, tt.last)
			if tt.wantErr {
				if !errors.Is(err, ErrPortRange) {
					t.Fatalf("err = %v, want ErrPortRange", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.first != tt.wantFirst || p.last != tt.wantLast {
				t.Errorf("range = %d-%d, want %d-%d", p.first, p.last, tt.wantFirst, tt.wantLast)
			}
		})
	}
}

// freeEvenRange finds n even ports that were free a moment ago.
func freeEvenRange(t *testing.T, n int) (first, last int) {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		if port >= 1024 && port+2*(n-1) <= 65535 {
			return port, port + 2*(n-1)
		}
	}
	t.Fatal("no free range found")
	return 0, 0
}

func TestPortPoolRoundRobinAndExhaustion(t *testing.T) {
	const n = 4
	first, last := freeEvenRange(t, n)
	p, err := NewPortPool(loopback, first, last)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*net.UDPConn
	seen := map[int]bool{}
	for {
		c, err := p.Listen()
		if errors.Is(err, ErrPoolExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port < first || port > last || seen[port] {
			t.Fatalf("port %d: odd, outside %d-%d or handed out twice", port, first, last)
		}
		seen[port] = true
		conns = append(conns, c)
		if len(conns) > n {
			t.Fatalf("handed out %d sockets from %d ports", len(conns), n)
		}
	}
	if len(conns) == 0 {
		t.Skip("every port of the range was taken by another process meanwhile")
	}
	if p.InUse() != len(conns) {
		t.Errorf("InUse = %d, want %d", p.InUse(), len(conns))
	}
	// Release the first; the next Listen may only reuse it because everything
	// else is held, which proves it came back.
	released := conns[0].LocalAddr().(*net.UDPAddr).Port
	p.Release(conns[0])
	p.Release(conns[0]) // twice: harmless
	if p.InUse() != len(conns)-1 {
		t.Errorf("InUse after release = %d, want %d", p.InUse(), len(conns)-1)
	}
	c, err := p.Listen()
	if err != nil {
		t.Fatalf("Listen after release: %v", err)
	}
	if got := c.LocalAddr().(*net.UDPAddr).Port; got != released {
		t.Errorf("got port %d, want the released %d", got, released)
	}
	conns[0] = c
	for _, c := range conns {
		p.Release(c)
	}
	if p.InUse() != 0 {
		t.Errorf("InUse at the end = %d", p.InUse())
	}
}

func TestPortPoolDoesNotReuseAtOnce(t *testing.T) {
	first, last := freeEvenRange(t, 3)
	p, err := NewPortPool(loopback, first, last)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Listen()
	if err != nil {
		t.Skip(err)
	}
	portA := a.LocalAddr().(*net.UDPAddr).Port
	p.Release(a)
	b, err := p.Listen()
	if err != nil {
		t.Skip(err)
	}
	defer p.Release(b)
	if b.LocalAddr().(*net.UDPAddr).Port == portA {
		// Legitimate only when every other port of the range was taken meanwhile by
		// another program (tests run in parallel on a shared machine).
		for port := first; port <= last; port += 2 {
			if port == portA {
				continue
			}
			if c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
				c.Close()
				t.Errorf("port %d reused at once although %d was free", portA, port)
				return
			}
		}
	}
}

func TestPortPoolAnyPort(t *testing.T) {
	p, err := NewPortPool(loopback, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if p.InUse() != 2 {
		t.Errorf("InUse = %d, want 2", p.InUse())
	}
	p.Release(a)
	p.Release(b)
	p.Release(b)
	if p.InUse() != 0 {
		t.Errorf("InUse = %d, want 0", p.InUse())
	}
	if _, err := b.WriteToUDPAddrPort([]byte{1}, netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("released socket not closed: %v", err)
	}
}
