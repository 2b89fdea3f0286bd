package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

var (
	// ErrPortRange means NewPortPool was given a port range it cannot use.
	ErrPortRange = errors.New("media: invalid RTP port range")
	// ErrPoolExhausted means every port of the pool is in use (or could not be bound).
	ErrPoolExhausted = errors.New("media: RTP port pool exhausted")
)

// PortPool hands out UDP sockets for RTP from a configured range of ports on one IP
// address. RTP takes even ports (RFC 3550 section 11: RTCP, when used, takes the
// odd port above), so only the even ports of the range are used. Ports are handed
// out round-robin, so a port just released is not reused at once and late packets
// of an ended call do not land in the next one. A PortPool is safe for concurrent
// use.
type PortPool struct {
	ip          netip.Addr
	first, last int // even ports; both 0 for "any port"

	mu    sync.Mutex
	next  int                   // the port to try first
	inUse map[int]*net.UDPConn  // by port
	any   map[*net.UDPConn]bool // sockets bound to port 0 in "any port" mode
}

// NewPortPool returns a pool of the even ports in [first, last] on ip. first and
// last both 0 mean "any free port" (the kernel chooses), which tests use. Other
// ranges must lie within 1-65535, have first <= last and hold at least one even
// port; otherwise the error wraps ErrPortRange.
func NewPortPool(ip netip.Addr, first, last int) (*PortPool, error) {
	if !ip.IsValid() {
		return nil, fmt.Errorf("%w: no IP address", ErrPortRange)
	}
	p := &PortPool{ip: ip.Unmap(), inUse: make(map[int]*net.UDPConn), any: make(map[*net.UDPConn]bool)}
	if first == 0 && last == 0 {
		return p, nil
	}
	if first < 1 || last > 65535 || first > last {
		return nil, fmt.Errorf("%w: %d-%d", ErrPortRange, first, last)
	}
	first += first % 2 // round up to even
	last -= last % 2   // round down to even
	if first > last {
		return nil, fmt.Errorf("%w: %d-%d holds no even port", ErrPortRange, first, last)
	}
	p.first, p.last, p.next = first, last, first
	return p, nil
}

// Listen binds a UDP socket on the next free even port, round-robin from the port
// after the one handed out last. Ports another program holds are skipped. When no
// port can be bound the error wraps ErrPoolExhausted. Give the socket back with
// Release.
func (p *PortPool) Listen() (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first == 0 {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, 0)))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPoolExhausted, err)
		}
		p.any[conn] = true
		return conn, nil
	}
	n := (p.last-p.first)/2 + 1
	var lastErr error
	for range n {
		port := p.next
		p.next += 2
		if p.next > p.last {
			p.next = p.first
		}
		if p.inUse[port] != nil {
			continue
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			lastErr = err
			continue
		}
		p.inUse[port] = conn
		return conn, nil
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w (%d-%d): %w", ErrPoolExhausted, p.first, p.last, lastErr)
	}
	return nil, fmt.Errorf("%w (%d-%d)", ErrPoolExhausted, p.first, p.last)
}

// Release closes conn and returns its port to the pool. Releasing a socket twice,
// or one the pool did not hand out, only closes it.
func (p *PortPool) Release(conn *net.UDPConn) {
	if conn == nil {
		return
	}
	p.mu.Lock()
	if p.any[conn] {
		delete(p.any, conn)
	} else if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && p.inUse[a.Port] == conn {
		delete(p.inUse, a.Port)
	}
	p.mu.Unlock()
	_ = conn.Close()
}

// InUse reports how many sockets are handed out and not yet released.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse) + len(p.any)
}
