// Package app wires Préau together: it opens the data directory (database,
// blob store, secret key), builds the services and the HTTP handler, and
// runs the server with a graceful shutdown.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"preau/internal/api"
	"preau/internal/auth"
	"preau/internal/blob"
	"preau/internal/config"
	"preau/internal/domain"
	"preau/internal/evidence/record"
	"preau/internal/evidence/taxii"
	"preau/internal/httpx"
	"preau/internal/live"
	"preau/internal/password"
	"preau/internal/sfu"
	"preau/internal/shield"
	"preau/internal/store/cache"
	"preau/internal/store/sqlite"
	"preau/internal/web"
	"preau/internal/workspace"
)

// Version is set at build time with -ldflags "-X preau/internal/app.Version=…".
var Version = "dev"

// App is a running Préau node's components.
type App struct {
	Config  *config.Config
	Log     *slog.Logger
	Store   domain.Store
	Blobs   *blob.Store
	Auth    *auth.Manager
	Service *workspace.Service
	Handler http.Handler
	Shield  *shield.Shield // nil with --shield=false
	Metrics *shield.Metrics
	Demo    bool
	// Recorder writes the evidence journals; nil with --evidence=false.
	Recorder *record.Recorder
	// Blocklist holds the partners' indicators the operator imported; nil
	// with --shield=false.
	Blocklist *shield.Blocklist

	// Live runs the live classes; nil with --live=false.
	Live *live.Service
	node *sfu.Node // the media node of the live classes

	evidence         *evidence
	taxii            *taxiiFeed // nil without --taxii-partners
	secret           []byte
	cancelBackground context.CancelFunc
	background       sync.WaitGroup
}

// Open prepares the data directory and builds every component.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, demo bool) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data directory %s: %w", cfg.DataDir, err)
	}
	secret, err := loadSecret(filepath.Join(cfg.DataDir, "secret.key"))
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "preau.db"), sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	store := cache.New(db, cache.Options{TTL: cfg.CacheTTL})
	blobs, err := blob.Open(filepath.Join(cfg.DataDir, "files"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("app: %w", err)
	}
	if n, err := blobs.CleanTemp(time.Hour); err != nil {
		log.Warn("clean temporary uploads", "err", err)
	} else if n > 0 {
		log.Info("removed temporary uploads left by a crash", "count", n)
	}
	acfg := auth.DefaultConfig()
	acfg.IdleTimeout = cfg.SessionIdle
	hasher := password.NewHasher(cfg.Argon2, 0)
	am := auth.NewManager(store, hasher, acfg, derive(secret, "auth"), log)
	gates, err := shield.ParseProfileGates(cfg.CloseProfiles, cfg.Location())
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("app: --close-profiles: %w", err)
	}
	am.SetLoginGate(gates.LoginGate)
	svc := workspace.New(store, blobs)

	a := &App{Config: cfg, Log: log, Store: store, Blobs: blobs, Auth: am, Service: svc, Demo: demo, secret: secret}
	if a.evidence, err = openEvidence(a.evidenceDir(), record.Config{Retention: cfg.EvidenceRetention,
		SampleEvery: cfg.EvidenceSampleEvery}, cfg.Evidence, log); err != nil {
		store.Close()
		return nil, err
	}
	a.Recorder = a.evidence.rec
	if err := a.openLive(ctx); err != nil {
		a.evidence.close()
		store.Close()
		return nil, err
	}
	if a.Handler, err = a.handler(gates); err != nil {
		a.closeLive()
		a.evidence.close()
		store.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancelBackground = cancel
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		am.Run(bg)
	}()
	a.background.Go(func() { a.evidence.run(bg) })
	if a.Live != nil {
		a.background.Go(func() { a.Live.Run(bg) })
	}
	if a.Shield != nil {
		a.background.Add(1)
		go func() {
			defer a.background.Done()
			a.Shield.Run(bg)
		}()
	}
	return a, nil
}

// evidenceDir is --evidence-dir, by default the evidence directory in the
// data directory.
func (a *App) evidenceDir() string {
	if a.Config.EvidenceDir != "" {
		return a.Config.EvidenceDir
	}
	return filepath.Join(a.Config.DataDir, "evidence")
}

// producer names this platform in the STIX bundles it shares.
func (a *App) producer() string {
	if u, err := url.Parse(a.Config.BaseURL); err == nil && u.Hostname() != "" {
		return "Préau (" + u.Hostname() + ")"
	}
	return "Préau"
}

// derive makes independent keys for each use from the one stored secret.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("preau/" + label))
	return m.Sum(nil)
}

// LoadSecret reads the secret key at path, creating dir and the key (mode
// 0600) on first start.
func LoadSecret(path, dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("app: data directory %s: %w", dir, err)
	}
	return loadSecret(path)
}

// loadSecret reads the node's secret key, creating it (mode 0600) on first start.
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("app: secret key %s is too short", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("app: read secret key: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("app: generate secret key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("app: create secret key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("app: write secret key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("app: sync secret key: %w", err)
	}
	return b, f.Close()
}

func (a *App) handler(gates *shield.ProfileGates) (http.Handler, error) {
	cfg := a.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := httpx.NewMetrics(reg)
	secure, hsts := cookiesSecure(cfg.BaseURL)

	mux := http.NewServeMux()
	a.Metrics = shield.NewMetrics(reg)
	if a.Recorder != nil {
		reg.MustRegister(newEvidenceCollector(a.Recorder))
	}
	if a.Live != nil {
		reg.MustRegister(newLiveCollector(a.Live, a.node))
	}
	if cfg.Shield {
		bl, err := shield.OpenBlocklist(filepath.Join(cfg.DataDir, "blocklist.json"))
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		a.Blocklist = bl
		sh, err := shield.New(shield.Config{
			Key: derive(a.secret, "shield"), Sessions: a.Auth, SessionCookie: web.SessionCookie,
			TrustedProxies: cfg.TrustedProxies, Allowlist: cfg.Allowlist, Blocklist: bl,
			LoginRoutes: []string{"POST /login", "POST /api/v1/login"}, LoginSlots: runtime.GOMAXPROCS(0),
			Gates: gates, Stylesheet: web.StylesheetURL(), SecureCookies: secure,
			DetectWarmup: cfg.DetectWarmup, DetectExitAfter: cfg.DetectExitAfter,
			Sink: a.evidence, Log: a.Log,
		}, a.Metrics)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		if cfg.AttackMode {
			sh.SetManual(true)
		}
		a.Shield = sh
	}
	receiptKey := derive(a.secret, "receipt")
	webCfg := web.Config{SecureCookies: secure, MaxUploadBytes: cfg.MaxUploadBytes,
		MaxFiles: cfg.MaxFiles, Location: cfg.Location(), ReceiptKey: receiptKey, Demo: a.Demo, Gates: gates, Shield: a.Shield,
		Live: a.Live, Audit: a.evidence, Operators: cfg.Operators, Blocklist: a.Blocklist, BlocklistTTL: cfg.BlocklistTTL,
		Evidence: a.Recorder, Export: web.ExportConfig{Dir: a.evidenceDir(), Producer: a.producer(), Version: Version,
			PseudonymKey: derive(a.secret, "evidence-pseudonym")}}
	err := web.Register(mux, a.Service, a.Auth, webCfg, a.Log)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	api.Register(mux, a.Service, a.Auth, api.Config{MaxUploadBytes: cfg.MaxUploadBytes, MaxFiles: cfg.MaxFiles,
		Location: cfg.Location(), ReceiptKey: receiptKey}, a.Log)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := a.Store.Ping(ctx); err != nil {
			a.Log.Error("readiness", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unavailable")
			return
		}
		if err := a.evidence.ready(); err != nil {
			a.Log.Error("readiness", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "evidence log cannot write")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	// Admin commands open the app without the recorder (the server holds
	// the journals): they serve nothing, TAXII included.
	if cfg.TAXIIPartnersFile != "" && a.Recorder != nil {
		if err := a.mountTAXII(mux); err != nil {
			return nil, err
		}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// Cross-origin state-changing browser requests are refused before any
	// handler runs (Sec-Fetch-Site / Origin checks); the forms' per-session
	// tokens are a second line for browsers that send neither header.
	csrf := http.NewCrossOriginProtection()
	var h http.Handler = csrf.Handler(metrics.Instrument(a.Log, mux))
	if a.Shield != nil {
		protected := a.evidence.recordRequests(a.Shield.Handler(h))
		// Probes and metrics bypass the shield: a load balancer's health
		// checks must not be rate limited or sent to the waiting room.
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				inner.ServeHTTP(w, r)
			default:
				protected.ServeHTTP(w, r)
			}
		})
	}
	return httpx.SecurityHeaders(hsts, shield.MinRateBody(cfg.MinBodyRate, 20*time.Second, h)), nil
}

// cookiesSecure decides the Secure cookie flag and HSTS from the public URL:
// always over HTTPS; over plain HTTP only on loopback, where browsers
// accept Secure cookies, so a demo on 127.0.0.1 keeps them.
func cookiesSecure(base string) (secure, hsts bool) {
	u, err := url.Parse(base)
	if err != nil {
		return true, false
	}
	if u.Scheme == "https" {
		return true, true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true, false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true, false
	}
	return false, false
}

// Serve runs the HTTP server on ln until ctx is cancelled, then lets
// in-flight requests finish (up to the shutdown timeout) and closes the
// database cleanly.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	cfg := a.Config
	tracker := shield.NewConnTracker(a.Metrics)
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTime,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       tracker.ConnContext,
		ConnState:         tracker.ConnState,
		// Bound what one HTTP/2 connection may ask for at once.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 100, MaxDecoderHeaderTableSize: 16 << 10, MaxReadFrameSize: 64 << 10},
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = err
	case <-ctx.Done():
		a.Log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		serveErr = srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, a.Close())
}

// Close stops background work, writes pending session expiries and closes
// the database.
func (a *App) Close() error {
	a.cancelBackground()
	a.background.Wait()
	a.closeLive()
	evErr := a.evidence.close()
	if err := a.Store.Close(); err != nil {
		return errors.Join(evErr, fmt.Errorf("app: close store: %w", err))
	}
	a.Log.Info("database closed cleanly")
	return evErr
}

// mountTAXII serves the recorded episodes to the partners of
// --taxii-partners at /taxii2/, behind the shield like every other page.
func (a *App) mountTAXII(mux *http.ServeMux) error {
	partners, err := loadPartners(a.Config.TAXIIPartnersFile)
	if err != nil {
		return err
	}
	a.taxii = &taxiiFeed{src: &taxii.MemorySource{}, producer: a.producer(), tlp: a.Config.TAXIITLP, log: a.Log}
	if err := a.taxii.load(a.Recorder); err != nil {
		return err
	}
	a.evidence.onEpisodeEnd = a.taxii.onEpisodeEnd
	tc := taxii.Config{
		Title:       "Préau — " + a.producer(),
		Description: "Denial-of-service episodes recorded by the Préau shield, as STIX 2.1.",
		Roots: []taxii.APIRoot{{Name: TAXIIRoot, Title: "Préau evidence", Collections: []taxii.Collection{{
			ID: TAXIICollection, Title: "Attack episodes",
			Description: "One STIX bundle per ended episode: incident, attack pattern, and for each top source its address, observed data, indicator and sighting.",
		}}}},
		Partners:  partners,
		Source:    a.taxii.src,
		CursorKey: derive(a.secret, "taxii-cursor"),
		Logger:    a.Log,
	}
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("app: --taxii-partners %s: %w", a.Config.TAXIIPartnersFile, err)
	}
	mux.Handle("/taxii2/", taxii.NewServer(tc))
	return nil
}
