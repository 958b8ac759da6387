package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"

	"preau/internal/storm/load"
	"preau/internal/storm/sources"
)

// Source modes of a Flood.
const (
	SourcesFew      = "few"
	SourcesOne16    = "one16"
	SourcesRotating = "rotating"
	SourcesMix      = "mix"
	// SourcesForwarded sends the rotating pool's 10,000 addresses, a new
	// one per request, in X-Forwarded-For over a few keep-alive
	// connections from 127.0.0.1: the flood as it reaches a platform
	// behind a reverse proxy or a CDN (the target must list 127.0.0.1 in
	// --trusted-proxies). Without a TCP handshake per request, one core of
	// generator reaches many times the rate of "rotating".
	SourcesForwarded = "forwarded"
)

// Sizes of the loopback source pools.
const (
	FewAddresses  = 4
	ManyAddresses = 10000
)

// Flood is an open-loop flood (see the package documentation).
type Flood struct {
	Rate     float64 // requests per second
	Duration time.Duration
	// Paths are the anonymous GETs, taken round robin; empty means "/".
	Paths []string
	// Sources is the source mode: "few" (the default when empty), "one16",
	// "rotating" or "mix".
	Sources string
	// LoginFlood sends POST /api/v1/login with random wrong passwords
	// instead of the GETs.
	LoginFlood bool
	// Logins, for a login flood, returns the login of request i (the
	// accounts under attack, e.g. DemoLogins(30)); nil means random
	// logins that do not exist.
	Logins func(i int) string
	// MaxInFlight bounds the requests (and so connections) outstanding at
	// once; 0 means load.DefaultMaxInFlight.
	MaxInFlight int
}

// Transport returns the transport of the flood's source mode.
func (f Flood) Transport() (*http.Transport, error) {
	maxConns := f.MaxInFlight
	if maxConns <= 0 {
		maxConns = load.DefaultMaxInFlight
	}
	var tr *http.Transport
	switch f.Sources {
	case "", SourcesFew, SourcesOne16, SourcesRotating:
		var pool *sources.LoopbackPool
		var err error
		switch f.Sources {
		case SourcesOne16:
			pool, err = sources.ManySources(ManyAddresses, sources.PerConnection)
		case SourcesRotating:
			pool, err = sources.ManySources(ManyAddresses, sources.PerRequest)
		default:
			pool, err = sources.FewSources(FewAddresses, sources.PerConnection)
		}
		if err != nil {
			return nil, err
		}
		pool.Dialer.Timeout = 5 * time.Second
		tr = pool.Transport()
	case SourcesForwarded:
		tr = &http.Transport{MaxIdleConnsPerHost: maxConns}
	case SourcesMix:
		d, err := sources.NewProxyDialer(sources.DefaultMix(), uint64(time.Now().UnixNano()))
		if err != nil {
			return nil, err
		}
		d.Dialer.Timeout = 5 * time.Second
		tr = &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	default:
		return nil, fmt.Errorf("scenario: unknown source mode %q (few, one16, rotating, forwarded, mix)", f.Sources)
	}
	tr.MaxConnsPerHost = maxConns
	tr.MaxIdleConnsPerHost = min(maxConns, max(tr.MaxIdleConnsPerHost, 2))
	tr.ResponseHeaderTimeout = 0
	return tr, nil
}

// Run runs the flood. t.Client is not used: the flood has a transport of
// its own per source mode. An invalid Flood (unknown source mode, no
// rate or duration) sends nothing.
func (f Flood) Run(ctx context.Context, t Target) load.Result {
	tr, err := f.Transport()
	if err != nil || !(f.Rate > 0) || f.Duration <= 0 {
		return load.OpenLoop{}.Run(ctx)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := strings.TrimRight(t.URL, "/")
	var forwarded *sources.LoopbackPool
	if f.Sources == SourcesForwarded {
		if forwarded, err = sources.ManySources(ManyAddresses, sources.PerRequest); err != nil {
			return load.OpenLoop{}.Run(ctx)
		}
	}
	paths := f.Paths
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	loop := load.OpenLoop{
		Rate:        f.Rate,
		Duration:    f.Duration,
		MaxInFlight: f.MaxInFlight,
		Do: func(ctx context.Context, seq int) (int, error) {
			rctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				GotConn: func(httptrace.GotConnInfo) { load.MarkStart(ctx) },
			})
			var req *http.Request
			var err error
			if f.LoginFlood {
				login := fmt.Sprintf("bot%08x", rand.Uint32())
				if f.Logins != nil {
					login = f.Logins(seq)
				}
				body, _ := json.Marshal(map[string]string{"login": login, "password": fmt.Sprintf("%016x", rand.Uint64())})
				req, err = http.NewRequestWithContext(rctx, http.MethodPost, base+"/api/v1/login", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
				}
			} else {
				req, err = http.NewRequestWithContext(rctx, http.MethodGet, base+paths[seq%len(paths)], nil)
			}
			if err != nil {
				return 0, err
			}
			req.Header.Set("User-Agent", "preau-storm-flood")
			if forwarded != nil {
				req.Header.Set("X-Forwarded-For", forwarded.Next().String())
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			return resp.StatusCode, err
		},
	}
	return loop.Run(ctx)
}
