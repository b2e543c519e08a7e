package rediscache

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gin-identity/kit/ginidentity/tokencache"
)

// proxy stands between a store and the test Redis so a test can take Redis away without touching the
// shared server: refuse drops every connection (Redis stopped), blackhole accepts and never answers (a
// network partition), forward restores service (Redis restarted).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	mode   string
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, mode: "forward", conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.set("refuse") })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// set switches the mode and drops every open connection, as a Redis restart or a partition would.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
}

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case "refuse":
			client.Close()
		case "blackhole":
			p.track(client)
			go io.Copy(io.Discard, client)
		case "forward":
			upstream, err := net.Dial("tcp", p.target)
			if err != nil {
				client.Close()
				continue
			}
			p.track(client)
			p.track(upstream)
			go func() { io.Copy(upstream, client); upstream.Close() }()
			go func() { io.Copy(client, upstream); client.Close() }()
		}
	}
}

// waitFor polls op until it succeeds, failing the test after a generous deadline: service must resume by
// itself, without a new store.
func waitFor(t *testing.T, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not resume: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const faultTimeout = 300 * time.Millisecond

// withinTimeout runs op and fails the test if it hangs far past the store's timeout (a hang check, with a
// wide margin for a loaded machine: not a performance assertion).
func withinTimeout(t *testing.T, op func() error) error {
	t.Helper()
	start := time.Now()
	err := op()
	if d := time.Since(start); d > faultTimeout+5*time.Second {
		t.Fatalf("an operation took %s with a %s timeout", d, faultTimeout)
	}
	return err
}

func TestRedisFailureFailsRequestsThenResumes(t *testing.T) {
	for _, mode := range []string{"refuse", "blackhole"} {
		t.Run(mode, func(t *testing.T) {
			c := requireRedis(t)
			p := startProxy(t, redisAddr())
			var log logBuffer
			s := newStore(t, Options{Addr: p.addr(), Prefix: testPrefix(t, c), EncryptionKeys: randomKeys(t),
				L1MaxBytes: 1 << 20, Timeout: faultTimeout, Logger: log.logger()})
			if err := s.Set(ctx, "alice", []byte("v1"), later()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "alice"); err != nil { // now in L1 too
				t.Fatal(err)
			}
			p.set(mode)
			for name, op := range map[string]func() error{
				"Get (in L1)":     func() error { _, err := s.Get(ctx, "alice"); return err },
				"Get (not in L1)": func() error { _, err := s.Get(ctx, "bob"); return err },
				"Set":             func() error { return s.Set(ctx, "alice", []byte("v2"), later()) },
				"Delete":          func() error { return s.Delete(ctx, "alice") },
			} {
				err := withinTimeout(t, op)
				if !errors.Is(err, ErrUnavailable) || !errors.Is(err, tokencache.ErrUnavailable) || !strings.Contains(err.Error(), p.addr()) {
					t.Errorf("%s with Redis %s: %v, want ErrUnavailable (and tokencache's) naming %s", name, mode, err, p.addr())
				}
			}
			if !strings.Contains(log.String(), "Redis is unreachable") {
				t.Errorf("the outage was not logged:\n%s", log.String())
			}
			// A caller's own deadline shorter than the store's timeout is the caller's error, not Redis's.
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := s.Get(short, "alice"); mode == "blackhole" && (!errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable)) {
				t.Errorf("Get with a 50ms caller deadline: %v, want context.DeadlineExceeded", err)
			}

			p.set("forward")
			waitFor(t, "Get", func() error {
				v, err := s.Get(ctx, "alice")
				if err == nil && string(v) != "v1" {
					t.Fatalf("after the outage Get = %q, want the last successful write v1", v)
				}
				return err
			})
			if err := s.Set(ctx, "alice", []byte("v3"), later()); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get(ctx, "alice"); err != nil || string(v) != "v3" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			if !strings.Contains(log.String(), "reachable again") {
				t.Errorf("the recovery was not logged:\n%s", log.String())
			}
		})
	}
}

func TestRedisFailureServesStaleFromL1(t *testing.T) {
	c := requireRedis(t)
	p := startProxy(t, redisAddr())
	var log logBuffer
	s := newStore(t, Options{Addr: p.addr(), Prefix: testPrefix(t, c), EncryptionKeys: randomKeys(t),
		L1MaxBytes: 1 << 20, WhenRedisFails: ServeStaleFromL1, Timeout: faultTimeout, Logger: log.logger()})
	if err := s.Set(ctx, "alice", []byte("alice's tokens"), later()); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "short", []byte("expires soon"), time.Now().Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	p.set("blackhole")
	for range 3 {
		var got []byte
		err := withinTimeout(t, func() (err error) { got, err = s.Get(ctx, "alice"); return err })
		if err != nil || string(got) != "alice's tokens" {
			t.Fatalf("Get during the outage = %q, %v; want the L1 copy", got, err)
		}
	}
	if n := strings.Count(log.String(), "serving entries from this instance's L1"); n != 1 {
		t.Errorf("the switch to L1 was logged %d times, want once:\n%s", n, log.String())
	}
	if _, err := s.Get(ctx, "bob"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get of a key not in L1 during the outage: %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx, "alice", []byte("new"), later()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set during the outage: %v, want ErrUnavailable", err)
	}
	// A failed write drops the L1 copy: the instance does not keep serving what it tried to replace.
	if _, err := s.Get(ctx, "alice"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get after a failed Set: %v, want ErrUnavailable", err)
	}
	time.Sleep(250 * time.Millisecond)
	if got, err := s.Get(ctx, "short"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("an expired L1 copy was served during the outage: %q, %v", got, err)
	}
	p.set("forward")
	waitFor(t, "Get", func() error {
		got, err := s.Get(ctx, "alice")
		if err == nil && string(got) != "alice's tokens" {
			t.Fatalf("after the outage Get = %q, want Redis's copy", got)
		}
		return err
	})
}

// TestKilledConnectionsReconnect kills the store's Redis connections on the server (as a Redis restart
// does): the next operations succeed on new connections.
func TestKilledConnectionsReconnect(t *testing.T) {
	c := requireRedis(t)
	name := "ginidentity-test-" + strings.ToLower(rand.Text())
	client := redis.NewClient(&redis.Options{Addr: redisAddr(), ClientName: name, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	s := newStore(t, Options{Client: client, Prefix: testPrefix(t, c), EncryptionKeys: randomKeys(t), L1MaxBytes: 1 << 20, Timeout: faultTimeout})
	if err := s.Set(ctx, "alice", []byte("v"), later()); err != nil {
		t.Fatal(err)
	}
	killed := 0
	list := c.ClientList(ctx).Val()
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		var id string
		mine := false
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if f == "name="+name {
				mine = true
			}
		}
		if mine {
			if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no connection named %s in CLIENT LIST", name)
	}
	waitFor(t, "Get", func() error {
		v, err := s.Get(ctx, "alice")
		if err == nil && string(v) != "v" {
			t.Fatalf("Get = %q", v)
		}
		if errors.Is(err, tokencache.ErrNotFound) {
			t.Fatal("the entry is gone")
		}
		return err
	})
}
