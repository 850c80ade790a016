package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
)

// TestSlowAndOversizedRequests: a client that sends its headers slowly
// (slowloris) is cut off after the header timeout, and headers over the
// limit are refused with 431, while the server keeps serving others.
func TestSlowAndOversizedRequests(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	srv := in.serve()
	addr := strings.TrimPrefix(srv.URL, "http://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: twostep\r\nX-Slow: "))
	// Trickle a byte a second; the server must give up on the headers.
	done := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(conn).ReadString('\n')
		done <- err
	}()
	closed := false
	for i := 0; i < 15 && !closed; i++ {
		select {
		case <-done:
			closed = true
		case <-time.After(time.Second):
			conn.Write([]byte("a"))
		}
	}
	if !closed {
		t.Fatal("a client trickling its headers kept the connection for 15 s")
	}
	t.Logf("slow headers cut off after %v", time.Since(start).Round(100*time.Millisecond))

	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: %d, want 431", res.StatusCode)
	}
	if s := status(t, srv.URL+"/healthz"); s != 200 {
		t.Fatalf("the server after the slow and big requests: %d", s)
	}
	srv.stop(t)
}
