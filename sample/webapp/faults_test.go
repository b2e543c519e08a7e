package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gin-identity/kit/ginidentity"
	"github.com/gin-identity/kit/ginidentity/entratest"
)

// redisServer is a redis-server of the test's own, on a free loopback port, that the test stops and starts:
// the machine's shared Redis is never touched. It saves its data only when told to (SAVE), in a directory
// of the test, and loads it back when it starts again.
type redisServer struct {
	t    *testing.T
	port string
	dir  string
	cmd  *exec.Cmd
	out  *lockedBuffer
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		skipOrFail(t, "redis-server is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	s := &redisServer{t: t, port: port, dir: t.TempDir(), out: &lockedBuffer{}}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + s.port }

// start runs redis-server on the port and waits until it answers.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", s.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--dbfilename", "dump.rdb", "--daemonize", "no")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.addr(), 200*time.Millisecond); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if bytes.HasPrefix(buf[:n], []byte("+PONG")) {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %s does not answer:\n%s", s.port, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops redis-server at once (SIGKILL), as a crash does.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// outageBound is how long a request may take while Redis is down: the stores' 500ms timeout, with room for
// a slow machine. A request that hangs exceeds it.
const outageBound = 10 * time.Second

// timed runs a request and fails the test if it took longer than outageBound.
func timed(t *testing.T, what string, do func() page) page {
	t.Helper()
	start := time.Now()
	p := do()
	if d := time.Since(start); d > outageBound {
		t.Errorf("%s took %v while Redis was down", what, d)
	}
	return p
}

// Redis (tokens and sessions, failing requests when it is down) stopped and restarted in the middle of the
// multi-instance test: every request that needs it fails cleanly with 503 within the timeout, public pages
// still render, sign-out waits rather than half happening, nothing is lost or corrupted, and service
// resumes by itself when Redis is back.
func TestRedisRestartFailRequests(t *testing.T) {
	rs := startRedisServer(t)
	raw, prefix := requireRedis(t, rs.addr())
	e := entratest.Start(t)
	cfg := scaleOutConfig(e, rs.addr(), prefix, randomKey())
	a, b, proxy := startCluster(t, e, cfg)
	alice := newPinnedClient(t, e)
	alice.on("A").through(alice.do("GET", proxy+"/profile", nil), entratest.Alice)
	if p := alice.on("B").through(alice.do("GET", proxy+"/mail", nil), entratest.Alice); !strings.Contains(p.body, aliceMailbox) {
		t.Fatalf("/mail on B: %d at %s", p.status, p.url)
	}
	if p := alice.on("A").do("GET", proxy+"/mail", nil); !strings.Contains(p.body, aliceMailbox) {
		t.Fatalf("/mail on A: %d at %s", p.status, p.url)
	}
	if err := raw.Save(context.Background()).Err(); err != nil { // so that the restart finds the data again
		t.Fatal(err)
	}
	before := redisValues(t, raw, prefix)

	rs.kill()
	for _, in := range []string{"A", "B"} {
		alice.on(in)
		for _, path := range []string{"/profile", "/mail", "/auth/signout"} {
			p := timed(t, path, func() page { return alice.do("GET", proxy+path, nil) })
			if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "temporarily unavailable") || p.url != proxy+path {
				t.Errorf("%s on %s with Redis down: %d at %s:\n%s", path, in, p.status, p.url, p.body)
			}
		}
		if p := timed(t, "/", func() page { return alice.do("GET", proxy+"/", nil) }); p.status != http.StatusOK {
			t.Errorf("the public page on %s with Redis down: %d", in, p.status)
		}
	}
	// A sign-in cannot complete either: cleanly.
	bob := newPinnedClient(t, e).on("B")
	if p := bob.through(bob.do("GET", proxy+"/auth/signin?returnUrl=/", nil), entratest.Bob); p.status != http.StatusServiceUnavailable {
		t.Errorf("bob's sign-in with Redis down: %d at %s", p.status, p.url)
	}

	rs.start()
	deadline := time.Now().Add(20 * time.Second)
	for alice.on("A").do("GET", proxy+"/profile", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("service did not resume within 20s of Redis coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := redisValues(t, raw, prefix)
	if len(after) != len(before) {
		t.Errorf("Redis held %v before the restart, %v after", keysOf(before), keysOf(after))
	}
	for k, v := range before {
		if !bytes.Equal(after[k], v) {
			t.Errorf("%s changed across the outage", k)
		}
	}
	// Her session and her tokens are intact: both instances serve her mail without the token endpoint.
	e.FailEndpoint(entratest.EndpointToken, http.StatusServiceUnavailable, 0)
	for _, in := range []string{"A", "B"} {
		if p := alice.on(in).do("GET", proxy+"/mail", nil); p.status != http.StatusOK || !strings.Contains(p.body, aliceMailbox) {
			t.Errorf("/mail on %s after the restart: %d at %s", in, p.status, p.url)
		}
	}
	e.ClearFaults()
	logs := a.logs.String() + b.logs.String()
	for _, want := range []string{"Redis is unreachable", "Redis is reachable again", "answering 503"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the logs", want)
		}
	}
	if strings.Contains(logs, "panic") {
		t.Errorf("a panic was logged:\n%s", logs)
	}

	// And she can sign out now: everything of hers leaves Redis.
	if p := alice.on("B").do("GET", proxy+"/auth/signout", nil); p.url != proxy+"/" || !strings.Contains(p.body, "not signed in") {
		t.Fatalf("sign-out after the restart: %d at %s", p.status, p.url)
	}
	for k := range redisValues(t, raw, prefix) {
		if strings.Contains(k, aliceHome) || strings.HasPrefix(k, prefix+"sessions:") {
			t.Errorf("%s is still in Redis after sign-out", k)
		}
	}
}

// With WhenRedisFails: ServeStaleFromL1 (and sessions in cookies), an instance serves the tokens it holds in
// its L1 while Redis is down, writes fail cleanly, and when Redis comes back empty the users sign in again
// (single sign-on: no form) and service resumes.
func TestRedisRestartServeStaleFromL1(t *testing.T) {
	rs := startRedisServer(t)
	_, prefix := requireRedis(t, rs.addr())
	e := entratest.Start(t)
	cfg := scaleOutConfig(e, rs.addr(), prefix, randomKey())
	cfg.TokenCache.WhenRedisFails = ginidentity.ServeStaleFromL1
	cfg.Sessions = ginidentity.SessionsOptions{} // sealed cookies
	a, b, proxy := startCluster(t, e, cfg)
	alice := newPinnedClient(t, e)
	alice.on("A").through(alice.do("GET", proxy+"/mail", nil), entratest.Alice)
	if p := alice.on("B").do("GET", proxy+"/mail", nil); !strings.Contains(p.body, aliceMailbox) { // B's L1 gets a copy
		t.Fatalf("/mail on B: %d at %s", p.status, p.url)
	}

	rs.kill()
	for _, in := range []string{"A", "B"} {
		p := timed(t, "/mail", func() page { return alice.on(in).do("GET", proxy+"/mail", nil) })
		if p.status != http.StatusOK || !strings.Contains(p.body, aliceMailbox) {
			t.Errorf("/mail on %s from L1 with Redis down: %d at %s", in, p.status, p.url)
		}
	}
	if logs := a.logs.String() + b.logs.String(); !strings.Contains(logs, "serving entries from this instance's L1") {
		t.Errorf("no warning about serving from L1:\n%s", logs)
	}
	// Nothing in L1 for bob, and his sign-in must write: it fails cleanly.
	bob := newPinnedClient(t, e).on("A")
	p := timed(t, "bob's sign-in", func() page { return bob.through(bob.do("GET", proxy+"/auth/signin?returnUrl=/", nil), entratest.Bob) })
	if p.status != http.StatusServiceUnavailable {
		t.Errorf("bob's sign-in with Redis down: %d at %s", p.status, p.url)
	}

	rs.start() // empty: nothing was saved
	for _, in := range []string{"A", "B"} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			p := alice.on(in).through(alice.do("GET", proxy+"/mail", nil), entratest.Alice)
			if p.status == http.StatusOK && p.url == proxy+"/mail" && strings.Contains(p.body, aliceMailbox) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/mail on %s did not resume after Redis came back: %d at %s", in, p.status, p.url)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if p := bob.through(bob.do("GET", proxy+"/auth/signin?returnUrl=/", nil), entratest.Bob); p.status != http.StatusOK || !strings.Contains(p.body, "Bob Jones") {
		t.Errorf("bob's sign-in after the restart: %d at %s", p.status, p.url)
	}
}
