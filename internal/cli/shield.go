package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"preau/internal/app"
	"preau/internal/httpx"
	"preau/internal/shield"
	"preau/internal/shield/detect"
	"preau/internal/shield/netguard"
)

// shieldCmd runs the shield alone in front of another portal. It has no
// access to the portal's sessions, so its classes are pass holders,
// allowlisted networks and anonymous visitors; the waiting room, the
// challenge, the rate limits and the detection work as inside Préau.
func shieldCmd(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	var upstream, metricsAddr string
	cfg, _, err := parse("shield", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&upstream, "upstream", "", "URL of the portal to protect, e.g. http://127.0.0.1:8081 (PREAU_UPSTREAM)")
		fs.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9090", "where /metrics and /healthz listen, apart from the public address (PREAU_METRICS_ADDR)")
	})
	if err != nil {
		return err
	}
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{msg: "--upstream: want the portal's URL, e.g. http://127.0.0.1:8081"}
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "preau-shield-data"
	}
	log := newLogger(cfg, stderr)
	secret, err := app.LoadSecret(filepath.Join(cfg.DataDir, "secret.key"), cfg.DataDir)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := shield.NewMetrics(reg)
	gates, err := shield.ParseProfileGates("", cfg.Location())
	if err != nil {
		return err
	}
	sh, err := shield.New(shield.Config{Key: secret, TrustedProxies: cfg.TrustedProxies, Allowlist: cfg.Allowlist,
		Gates: gates, Sink: detect.SlogSink{Logger: log}, Log: log,
		DetectWarmup: cfg.DetectWarmup, DetectExitAfter: cfg.DetectExitAfter}, metrics)
	if err != nil {
		return err
	}
	if cfg.AttackMode {
		sh.SetManual(true)
	}
	handler := httpx.SecurityHeadersFor(func(r *http.Request) bool { return isShieldPage(r) }, false,
		shield.MinRateBody(cfg.MinBodyRate, 20*time.Second, sh.Handler(shield.NewProxy(u, sh, log))))

	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln := netguard.NewListener(raw, netguard.Config{TrustedProxies: cfg.TrustedProxies, ProxyProtocol: cfg.ProxyProtocol,
		MaxPerAddr: cfg.MaxConnsPerAddr, MaxPerPrefix: cfg.MaxConnsPerPrefix,
		OnRefuse: func(reason string, _ netip.Addr) { metrics.ConnRefused(reason) }, Shed: sh.ShedConnection})
	tracker := shield.NewConnTracker(metrics)
	srv := &http.Server{Handler: handler, ConnContext: tracker.ConnContext, ConnState: tracker.ConnState, ReadHeaderTimeout: cfg.ReadHeaderTime, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: cfg.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 100, MaxDecoderHeaderTableSize: 16 << 10, MaxReadFrameSize: 64 << 10}}

	opsMux := http.NewServeMux()
	opsMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	opsMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	ops := &http.Server{Addr: metricsAddr, Handler: opsMux, ReadHeaderTimeout: 5 * time.Second}
	opsLn, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen on %s: %w", metricsAddr, err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go sh.Run(bg)
	go ops.Serve(opsLn)
	log.Info("preau shield listening", "addr", ln.Addr().String(), "upstream", u.String(), "metrics", opsLn.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		ops.Close()
		return err
	case <-ctx.Done():
	}
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer stop()
	err = errors.Join(srv.Shutdown(sctx), ops.Shutdown(sctx))
	<-errc
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func isShieldPage(r *http.Request) bool {
	p := r.URL.Path
	return p == shield.WaitPath || p == shield.ChallengePath || len(p) > len(shield.ChallengePath) && p[:len(shield.ChallengePath)+1] == shield.ChallengePath+"/"
}
