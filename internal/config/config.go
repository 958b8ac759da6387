// Package config reads Préau's settings from command-line flags, each with a
// PREAU_* environment variable as fallback, and from an optional file
// (--config FILE, lines "name = value" with the flags' names). Flags win over
// the environment, which wins over the file. Every problem is reported at
// once so an operator sees all their mistakes in one go.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"preau/internal/password"
)

// Config is the whole server configuration.
type Config struct {
	Addr     string
	DataDir  string
	BaseURL  string
	Timezone string
	TLSCert  string
	TLSKey   string

	MaxUploadBytes  int64
	MinBodyRate     int64 // bytes per second a request body must keep up on average
	MaxFiles        int
	MaxHeaderBytes  int
	ReadHeaderTime  time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	SessionIdle     time.Duration
	CacheTTL        time.Duration

	Argon2 password.Params

	LogLevel  string
	LogFormat string

	DemoSize string // demo only: "CLASSESxSTUDENTS"

	CloseProfiles string // e.g. "parent=07:30-17:30": logins of a profile refused during those hours

	Shield            bool           // the shield in front of the application
	AttackMode        bool           // start with the challenge switched on by hand
	TrustedProxies    []netip.Prefix // peers whose PROXY header or X-Forwarded-For is believed
	ProxyProtocol     bool           // trusted peers send a PROXY protocol header
	Allowlist         []netip.Prefix // school networks: never challenged nor rate limited
	MaxConnsPerAddr   int
	MaxConnsPerPrefix int
	DetectWarmup      time.Duration // the detector learns normal traffic this long before any episode
	DetectExitAfter   time.Duration // calm this long ends an episode

	// Evidence records attack episodes, sampled requests and the admin
	// audit log in tamper-evident journals (internal/evidence/record).
	Evidence            bool
	EvidenceDir         string                   // "" means <DataDir>/evidence
	EvidenceRetention   map[string]time.Duration // by stream (events, sources, requests); missing streams take the recorder's defaults
	EvidenceSampleEvery int                      // 1 request in N is recorded raw during an episode

	// Operators are the admin logins allowed on the platform-wide operator
	// pages (shield, evidence, blocklist). Empty: the admins of the only
	// school, when the server has one.
	Operators []string

	// Live runs the live classes; the media node listens on LiveUDP (ICE,
	// one port for every participant), LiveTCP (ICE over TCP, "" off),
	// TURNUDP and TURNTCP (the embedded TURN server, "" off).
	Live               bool
	LiveUDP, LiveTCP   string
	TURNUDP, TURNTCP   string
	LivePublicIPs      []string // addresses announced to clients (1:1 NAT)
	LiveMaxSubscribers int      // participants receiving media on this node
	LiveMaxKbps        int64    // total forwarded bitrate, kbit/s

	TAXIIPartnersFile string        // JSON file of TAXII partners; "" serves no TAXII
	TAXIITLP          string        // TLP level of the episodes shared over TAXII
	BlocklistTTL      time.Duration // expiry of an imported indicator without valid_until
}

// EvidenceStreams are the evidence recorder's streams, which
// --evidence-retention names.
var EvidenceStreams = []string{"events", "sources", "requests"}

// TLPLevels are the TLP 2.0 levels, least restrictive first.
var TLPLevels = []string{"clear", "green", "amber", "amber+strict", "red"}

// Flags registers every setting on fs and returns a function that, after
// fs.Parse, applies environment fallbacks and validates.
func Flags(fs *flag.FlagSet) (*Config, func() error) {
	c := &Config{Argon2: password.DefaultParams()}
	var upload, minRate, trusted, allow, file, retention, operators, publicIPs string
	fs.StringVar(&file, "config", "", "file of settings, one \"name = value\" per line with the flags' names (PREAU_CONFIG)")
	var argonMem, argonTime, argonThreads uint
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (PREAU_ADDR)")
	fs.StringVar(&c.DataDir, "data", "", "data directory: database, files, keys (PREAU_DATA)")
	fs.StringVar(&c.BaseURL, "base-url", "", "public URL of the site, e.g. https://ent.example.fr; defaults to http://ADDR (PREAU_BASE_URL)")
	fs.StringVar(&c.Timezone, "timezone", "Europe/Paris", "time zone dates are shown in (PREAU_TIMEZONE)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file; serve HTTPS directly (PREAU_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file (PREAU_TLS_KEY)")
	fs.StringVar(&upload, "max-upload", "20MiB", "largest upload request, e.g. 20MiB (PREAU_MAX_UPLOAD)")
	fs.StringVar(&minRate, "min-body-rate", "512B", "slowest average upload rate accepted after a 20 s grace, e.g. 512B per second: stops slow-POST attacks, kind to weak lines (PREAU_MIN_BODY_RATE)")
	fs.IntVar(&c.MaxFiles, "max-files", 10, "files per upload (PREAU_MAX_FILES)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 16<<10, "largest request header (PREAU_MAX_HEADER_BYTES)")
	fs.DurationVar(&c.ReadHeaderTime, "read-header-timeout", 5*time.Second, "time to read request headers (PREAU_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 2*time.Minute, "time to read a whole request, uploads included (PREAU_READ_TIMEOUT)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 2*time.Minute, "time to write a response (PREAU_WRITE_TIMEOUT)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 90*time.Second, "keep-alive idle time (PREAU_IDLE_TIMEOUT)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "time in-flight requests get on SIGTERM (PREAU_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.SessionIdle, "session-idle", 12*time.Hour, "a session unused this long expires (PREAU_SESSION_IDLE)")
	fs.DurationVar(&c.CacheTTL, "cache-ttl", 10*time.Second, "longest a cached read may lag a write made by another node (PREAU_CACHE_TTL)")
	fs.UintVar(&argonMem, "argon2-memory", uint(c.Argon2.Memory), "argon2id memory in KiB (PREAU_ARGON2_MEMORY)")
	fs.UintVar(&argonTime, "argon2-time", uint(c.Argon2.Time), "argon2id iterations (PREAU_ARGON2_TIME)")
	fs.UintVar(&argonThreads, "argon2-threads", uint(c.Argon2.Threads), "argon2id parallelism (PREAU_ARGON2_THREADS)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error (PREAU_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json (PREAU_LOG_FORMAT)")
	fs.StringVar(&c.CloseProfiles, "close-profiles", "", "close a profile's logins during set hours, e.g. parent=07:30-17:30 (PREAU_CLOSE_PROFILES)")
	fs.BoolVar(&c.Shield, "shield", true, "put the shield (rate limits, admission control, waiting room, challenge, attack detection) in front of the application (PREAU_SHIELD)")
	fs.BoolVar(&c.AttackMode, "attack-mode", false, "start in attack mode: anonymous visitors must pass the challenge (PREAU_ATTACK_MODE)")
	fs.StringVar(&trusted, "trusted-proxies", "", "comma-separated networks of reverse proxies whose PROXY header or X-Forwarded-For is believed (PREAU_TRUSTED_PROXIES)")
	fs.BoolVar(&c.ProxyProtocol, "proxy-protocol", false, "trusted proxies send a PROXY protocol v1/v2 header (PREAU_PROXY_PROTOCOL)")
	fs.StringVar(&allow, "allowlist", "", "comma-separated school networks (NAT ranges) never challenged nor rate limited (PREAU_ALLOWLIST)")
	fs.IntVar(&c.MaxConnsPerAddr, "max-conns-per-addr", 256, "concurrent connections per client address; a school NAT counts as one (PREAU_MAX_CONNS_PER_ADDR)")
	fs.IntVar(&c.MaxConnsPerPrefix, "max-conns-per-prefix", 1024, "concurrent connections per /24 or /56 (PREAU_MAX_CONNS_PER_PREFIX)")
	fs.DurationVar(&c.DetectWarmup, "detect-warmup", 30*time.Second, "time the attack detector learns normal traffic after start-up before it may open an episode (PREAU_DETECT_WARMUP)")
	fs.DurationVar(&c.DetectExitAfter, "detect-exit-after", 30*time.Second, "calm time that ends an attack episode (PREAU_DETECT_EXIT_AFTER)")
	fs.BoolVar(&c.Evidence, "evidence", true, "record attack episodes, sampled requests and admin actions in tamper-evident journals (PREAU_EVIDENCE)")
	fs.StringVar(&c.EvidenceDir, "evidence-dir", "", "directory of the evidence journals; defaults to DATA/evidence (PREAU_EVIDENCE_DIR)")
	fs.StringVar(&retention, "evidence-retention", "", "how long each evidence stream is kept, e.g. requests=90d,events=365d,sources=365d (PREAU_EVIDENCE_RETENTION)")
	fs.IntVar(&c.EvidenceSampleEvery, "evidence-sample-every", 20, "during an attack, record 1 request in N raw (PREAU_EVIDENCE_SAMPLE_EVERY)")
	fs.StringVar(&operators, "operators", "", "comma-separated admin logins allowed on the operator pages (shield, evidence, blocklist); empty: the admins of the only school (PREAU_OPERATORS)")
	fs.StringVar(&c.TAXIIPartnersFile, "taxii-partners", "", "JSON file of TAXII partners (name, key_sha256, max_tlp); serves /taxii2/ when set (PREAU_TAXII_PARTNERS)")
	fs.StringVar(&c.TAXIITLP, "taxii-tlp", "amber", "TLP level of the episodes shared over TAXII: clear, green, amber, amber+strict or red (PREAU_TAXII_TLP)")
	fs.DurationVar(&c.BlocklistTTL, "blocklist-ttl", 7*24*time.Hour, "how long an imported partner indicator without valid_until blocks (PREAU_BLOCKLIST_TTL)")
	fs.BoolVar(&c.Live, "live", true, "run live virtual classes (PREAU_LIVE)")
	fs.StringVar(&c.LiveUDP, "live-udp", ":7881", "UDP address of the live classes' audio and video, one port for everyone; open it in the firewall (PREAU_LIVE_UDP)")
	fs.StringVar(&c.LiveTCP, "live-tcp", "", "TCP address for audio and video over ICE-TCP, for networks that block UDP; empty: off (PREAU_LIVE_TCP)")
	fs.StringVar(&c.TURNUDP, "turn-udp", ":3478", "UDP address of the embedded TURN server; empty: off (PREAU_TURN_UDP)")
	fs.StringVar(&c.TURNTCP, "turn-tcp", ":3478", "TCP address of the embedded TURN server, the way through firewalls that block UDP (port 443 passes most); empty: off (PREAU_TURN_TCP)")
	fs.StringVar(&publicIPs, "live-public-ip", "", "comma-separated public addresses of this server, announced to clients when it is behind a 1:1 NAT (PREAU_LIVE_PUBLIC_IP)")
	fs.IntVar(&c.LiveMaxSubscribers, "live-max-subscribers", 0, "participants receiving audio and video on this server at once; more wait in line; 0: 400 per CPU (PREAU_LIVE_MAX_SUBSCRIBERS)")
	fs.Int64Var(&c.LiveMaxKbps, "live-max-kbps", 800_000, "total audio and video this server forwards, in kbit/s; joins beyond wait in line (PREAU_LIVE_MAX_KBPS)")
	fs.StringVar(&c.DemoSize, "size", "", "demo school size CLASSESxSTUDENTS, e.g. 30x30 (PREAU_SIZE; demo only)")
	return c, func() error {
		applyEnv(fs)
		var errs []error
		if file != "" {
			if err := applyFile(fs, file); err != nil {
				errs = append(errs, err)
			}
		}
		n, err := ParseBytes(upload)
		if err != nil {
			errs = append(errs, fmt.Errorf("--max-upload: %w", err))
		}
		c.MaxUploadBytes = n
		if c.MinBodyRate, err = ParseBytes(minRate); err != nil {
			errs = append(errs, fmt.Errorf("--min-body-rate: %w", err))
		}
		c.Argon2.Memory, c.Argon2.Time, c.Argon2.Threads = uint32(argonMem), uint32(argonTime), uint8(argonThreads)
		if c.TrustedProxies, err = parsePrefixes(trusted); err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
		}
		if c.Allowlist, err = parsePrefixes(allow); err != nil {
			errs = append(errs, fmt.Errorf("--allowlist: %w", err))
		}
		if c.EvidenceRetention, err = parseRetention(retention); err != nil {
			errs = append(errs, fmt.Errorf("--evidence-retention: %w", err))
		}
		for _, ip := range strings.Split(publicIPs, ",") {
			if ip = strings.TrimSpace(ip); ip == "" {
				continue
			}
			if _, err := netip.ParseAddr(ip); err != nil {
				errs = append(errs, fmt.Errorf("--live-public-ip %q: not an IP address", ip))
				continue
			}
			c.LivePublicIPs = append(c.LivePublicIPs, ip)
		}
		for _, l := range strings.Split(operators, ",") {
			if l = strings.TrimSpace(l); l != "" {
				c.Operators = append(c.Operators, l)
			}
		}
		errs = append(errs, c.validate()...)
		return errors.Join(errs...)
	}
}

// applyEnv sets every flag not given on the command line from PREAU_NAME.
func applyEnv(fs *flag.FlagSet) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			fs.Set(f.Name, v) // validated below like a flag
		}
	})
}

// applyFile sets, from a settings file, every flag given neither on the
// command line nor in the environment.
func applyFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(value), `"`)
		f := fs.Lookup(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s:%d: want name = value", path, i+1))
		case f == nil || name == "config":
			errs = append(errs, fmt.Errorf("%s:%d: unknown setting %q", path, i+1, name))
		case set[name]:
			// given on the command line or in the environment: those win
		default:
			if _, inEnv := os.LookupEnv(envName(name)); inEnv {
				continue
			}
			if err := fs.Set(name, value); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, i+1, name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func envName(flag string) string {
	return "PREAU_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (c *Config) validate() []error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %w", c.Addr, err))
	}
	if c.BaseURL == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.BaseURL = scheme + "://" + c.Addr
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--base-url %q: want an http or https URL", c.BaseURL))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("--timezone %q: %w", c.Timezone, err))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.MaxUploadBytes < 1<<10 {
		errs = append(errs, errors.New("--max-upload must be at least 1KiB"))
	}
	if c.MaxFiles < 1 || c.MaxFiles > 100 {
		errs = append(errs, errors.New("--max-files must be between 1 and 100"))
	}
	if c.MaxHeaderBytes < 4<<10 {
		errs = append(errs, errors.New("--max-header-bytes must be at least 4096"))
	}
	for name, d := range map[string]time.Duration{"read-header-timeout": c.ReadHeaderTime, "read-timeout": c.ReadTimeout,
		"write-timeout": c.WriteTimeout, "idle-timeout": c.IdleTimeout, "shutdown-timeout": c.ShutdownTimeout, "session-idle": c.SessionIdle, "cache-ttl": c.CacheTTL} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive", name))
		}
	}
	if err := c.Argon2.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("argon2 parameters: %w", err))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	if c.DetectWarmup < time.Second || c.DetectExitAfter < time.Second {
		errs = append(errs, errors.New("--detect-warmup and --detect-exit-after must be at least 1s (the detector's window)"))
	}
	if c.Live && c.LiveUDP == "" {
		errs = append(errs, errors.New("--live-udp is required for live classes (or --live=false)"))
	}
	if c.LiveMaxSubscribers < 0 || c.LiveMaxKbps < 1 {
		errs = append(errs, errors.New("--live-max-subscribers must be 0 (automatic) or more, --live-max-kbps positive"))
	}
	if c.EvidenceSampleEvery < 1 {
		errs = append(errs, errors.New("--evidence-sample-every must be at least 1"))
	}
	if !slices.Contains(TLPLevels, strings.ToLower(c.TAXIITLP)) {
		errs = append(errs, fmt.Errorf("--taxii-tlp %q: want one of %s", c.TAXIITLP, strings.Join(TLPLevels, ", ")))
	}
	c.TAXIITLP = strings.ToLower(c.TAXIITLP)
	if c.BlocklistTTL <= 0 {
		errs = append(errs, errors.New("--blocklist-ttl must be positive"))
	}
	if c.TAXIIPartnersFile != "" && !c.Evidence {
		errs = append(errs, errors.New("--taxii-partners needs --evidence: the TAXII collection is built from recorded episodes"))
	}
	if c.DemoSize != "" {
		if _, _, err := ParseSize(c.DemoSize); err != nil {
			errs = append(errs, fmt.Errorf("--size: %w", err))
		}
	}
	return errs
}

// parsePrefixes reads "10.0.0.0/8, 192.0.2.7" (an address is its /32 or /128).
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network or an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// parseRetention reads "requests=90d, events=365d" (days, or any Go
// duration such as 2160h) into a duration per evidence stream.
func parseRetention(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	var errs []error
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, value, ok := strings.Cut(f, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !slices.Contains(EvidenceStreams, name) {
			errs = append(errs, fmt.Errorf("%q: want STREAM=DURATION with STREAM one of %s", f, strings.Join(EvidenceStreams, ", ")))
			continue
		}
		d, err := parseDays(value)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration like 90d or 2160h", name, value))
			continue
		}
		out[name] = d
	}
	return out, errors.Join(errs...)
}

// parseDays reads "90d" as 90 days, and anything else as a Go duration:
// retention is counted in days, which time.ParseDuration does not know.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Location returns the configured time zone.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ParseBytes reads sizes like "20MiB", "512KiB", "1GB" or a plain number.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size like 20MiB", s)
	}
	return n * mult, nil
}

// ParseSize reads a demo size "CLASSESxSTUDENTS".
func ParseSize(s string) (classes, students int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	classes, err1 := strconv.Atoi(a)
	students, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || classes < 1 || classes > 500 || students < 1 || students > 100 {
		return 0, 0, fmt.Errorf("%q: want CLASSESxSTUDENTS, e.g. 30x30 (at most 500x100)", s)
	}
	return classes, students, nil
}
