package shield

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A body trickled far below the minimum rate is cut; a normal one passes.
func TestMinRateBodyCutsSlowPosts(t *testing.T) {
	got := make(chan error, 2)
	srv := httptest.NewServer(MinRateBody(10_000, 300*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		got <- err
		if err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
		}
	})))
	defer srv.Close()

	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", 50_000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-got; err != nil {
		t.Fatalf("normal body: %v", err)
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	// One byte every 50 ms is 20 B/s, far below 10 kB/s: the server must
	// give up; the loop stops as soon as it has.
	go func() {
		for range 200 {
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	err = <-got
	if !errors.Is(err, ErrTooSlow) {
		t.Errorf("slow body: got %v, want ErrTooSlow", err)
	}
}
