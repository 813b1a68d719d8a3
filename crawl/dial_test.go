package crawl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestAddrPolicy(t *testing.T) {
	blocked := []string{
		"127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fd00:ec2::254", "fc00::1", "100.100.100.200", "100.64.0.1",
		"0.0.0.0", "0.1.2.3", "255.255.255.255", "240.0.0.1", "224.0.0.1", "ff02::1", "::",
		"::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "198.18.0.1",
		"192.0.2.1", "2001:db8::1",
	}
	allowed := []string{"8.8.8.8", "93.184.216.34", "2606:4700::1111", "64:ff9b::808:808", "::ffff:1.1.1.1", "172.32.0.1"}
	p := addrPolicy{}
	for _, s := range blocked {
		if !p.blocked(netip.MustParseAddr(s)) {
			t.Errorf("%s allowed, want blocked", s)
		}
	}
	for _, s := range allowed {
		if p.blocked(netip.MustParseAddr(s)) {
			t.Errorf("%s blocked, want allowed", s)
		}
	}
	all := addrPolicy{allowPrivate: true}
	if all.blocked(netip.MustParseAddr("10.0.0.1")) {
		t.Error("AllowPrivate blocks")
	}
	lo := addrPolicy{allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if lo.blocked(netip.MustParseAddr("127.0.0.1")) || lo.blocked(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("allowed prefix blocked")
	}
	if !lo.blocked(netip.MustParseAddr("10.0.0.1")) {
		t.Error("10.0.0.1 allowed by a loopback prefix")
	}
}

// TestDialRefusesBeforeConnect: with private addresses off, dialling a
// loopback listener fails in the Control hook and the listener never sees
// a connection, so the check is before connect(2).
func TestDialRefusesBeforeConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	o := DefaultOptions()
	d := newDialer(&o)
	for _, addr := range []string{ln.Addr().String(), "10.0.0.1:80", "[fd00:ec2::254]:80", "169.254.169.254:80"} {
		start := time.Now()
		_, err := d.DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, errBlockedAddress) || StatusOf(err) != StatusPrivateAddress {
			t.Errorf("%s: got %v, want a blocked-address error", addr, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%s: refusal took %v: a connection was attempted", addr, el)
		}
	}
	// A name that resolves to a private address is refused the same way.
	o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	d = newDialer(&o)
	if _, err := d.DialContext(context.Background(), "tcp", "rebind.test:"+portOf(t, ln.Addr())); !errors.Is(err, errBlockedAddress) {
		t.Errorf("name resolving to loopback: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	ln.Close()
	<-done
	if n := accepted.Load(); n != 0 {
		t.Fatalf("listener accepted %d connections", n)
	}
}

func portOf(t *testing.T, a net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDNSCache(t *testing.T) {
	var calls atomic.Int32
	o := DefaultOptions()
	o.Resolver = func(ctx context.Context, host string) ([]netip.Addr, error) {
		calls.Add(1)
		if host == "nowhere.invalid" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	d := newDialer(&o)
	for range 3 {
		a, err := d.lookup(context.Background(), "example.test")
		if err != nil || len(a) != 1 {
			t.Fatal(a, err)
		}
		if _, err := d.lookup(context.Background(), "nowhere.invalid"); StatusOf(err) != StatusDNS {
			t.Fatalf("unknown name: %v (%s)", err, StatusOf(err))
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("resolver called %d times, want 2 (one per name)", n)
	}
	if a, _ := d.lookup(context.Background(), "10.1.2.3"); len(a) != 1 || a[0] != netip.MustParseAddr("10.1.2.3") {
		t.Fatalf("IP literal: %v", a)
	}
}
