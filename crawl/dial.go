package crawl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"
)

// Resolver looks a host name up. Options.Resolver replaces the system
// resolver with one (a static table in tests, a local caching resolver in
// production); its answers still go through the dial-time address check.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// blockedPrefixes are ranges no crawl request may reach, beyond what
// netip.Addr's predicates (loopback, private, link-local, multicast,
// unspecified) cover: shared address space (carrier NAT; Alibaba's metadata
// service is 100.100.100.200), IETF protocol assignments, documentation and
// benchmarking nets, the reserved 240/4 (broadcast included), and their
// IPv6 counterparts. Cloud metadata services live at 169.254.169.254 and
// fd00:ec2::254, covered as link-local and private.
var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"100::/64", "2001:db8::/32", "fec0::/10", "64:ff9b:1::/48",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// addrPolicy decides which addresses may be dialled.
type addrPolicy struct {
	allowPrivate bool
	allowed      []netip.Prefix
}

// blocked reports whether a is loopback, private, link-local (metadata
// services included), multicast, unspecified or otherwise special and not
// allowed by the policy. IPv4-mapped, NAT64 and 6to4 IPv6 addresses are
// judged by the IPv4 address they carry.
func (p *addrPolicy) blocked(a netip.Addr) bool {
	if p.allowPrivate {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, pr := range p.allowed {
		if pr.Contains(a) {
			return false
		}
	}
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, pr := range blockedPrefixes {
		if pr.Contains(a) {
			return true
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64Prefix.Contains(a):
			return p.blocked(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return p.blocked(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return false
}

// dialer dials with a DNS cache and refuses blocked addresses in the
// socket's Control hook, after the socket is made and before connect(2): the
// check is on the address actually dialled, for every connection (redirect
// targets and robots.txt included), so a name that resolves to a private
// address, or re-resolves to one (DNS rebinding), is never connected to.
type dialer struct {
	policy  addrPolicy
	resolve Resolver
	nd      net.Dialer
	ttl     time.Duration // positive answers
	negTTL  time.Duration // failures
	maxSize int

	mu    sync.Mutex
	cache map[string]dnsEntry
	sf    singleflight.Group
}

type dnsEntry struct {
	addrs   []netip.Addr
	err     error
	expires time.Time
}

func newDialer(o *Options) *dialer {
	d := &dialer{
		policy:  addrPolicy{allowPrivate: o.AllowPrivate, allowed: o.AllowedPrefixes},
		resolve: o.Resolver,
		ttl:     o.DNSCacheTTL,
		negTTL:  min(o.DNSCacheTTL, 30*time.Second),
		maxSize: 100_000,
		cache:   map[string]dnsEntry{},
	}
	if d.resolve == nil {
		d.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	d.nd = net.Dialer{
		Timeout:   o.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Control:   d.control,
	}
	return d
}

// control refuses blocked addresses before the connection is attempted.
func (d *dialer) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", errBlockedAddress, address)
	}
	if d.policy.blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", errBlockedAddress, ap.Addr())
	}
	return nil
}

// DialContext resolves host through the cache and dials its addresses in
// order until one connects.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := d.nd.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil || (errors.Is(firstErr, errBlockedAddress) && !errors.Is(err, errBlockedAddress)) {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// lookup returns host's addresses: IP literals as they are, names from the
// cache or the resolver (one lookup per name at a time).
func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	now := time.Now()
	d.mu.Lock()
	e, ok := d.cache[host]
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.addrs, e.err
	}
	v, err, _ := d.sf.Do(host, func() (any, error) {
		// The lookup is shared, so it must not die with the first caller's
		// context; the connect timeout bounds it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(d.nd.Timeout, time.Second))
		defer cancel()
		addrs, err := d.resolve(lctx, host)
		if err == nil && len(addrs) == 0 {
			err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		ttl := d.ttl
		if err != nil {
			ttl = d.negTTL
		}
		d.mu.Lock()
		if len(d.cache) >= d.maxSize {
			d.evictLocked(time.Now())
		}
		d.cache[host] = dnsEntry{addrs: addrs, err: err, expires: time.Now().Add(ttl)}
		d.mu.Unlock()
		return addrs, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]netip.Addr), nil
}

// evictLocked drops expired entries, then arbitrary ones until the cache is
// under 90% of its size.
func (d *dialer) evictLocked(now time.Time) {
	for k, e := range d.cache {
		if now.After(e.expires) {
			delete(d.cache, k)
		}
	}
	for k := range d.cache {
		if len(d.cache) < d.maxSize*9/10 {
			break
		}
		delete(d.cache, k)
	}
}
