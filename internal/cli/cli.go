// Package cli is the preau command: it parses subcommands and flags and
// runs them. cmd/preau only calls Main, so tests can run the whole program
// in-process with their own arguments, output and context.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"preau/internal/app"
	"preau/internal/config"
	"preau/internal/demo"
	"preau/internal/domain"
	"preau/internal/importer"
	"preau/internal/shield/netguard"
)

const usage = `Préau — the digital workspace and virtual class for schools.

Usage:
  preau serve   [flags]              run the server on --data
  preau demo    [flags] [--size CxS] run a freshly seeded demo school
  preau version                      print the version
  preau user add --login L --name N --role R [--school ID] [flags]
                                     add an account (password read from stdin or generated)
  preau import users|timetable FILE [--apply] [flags]
                                     check a CSV file, and import it with --apply
  preau school add --name N [flags]  create a school (prints its id)
  preau shield --upstream URL [flags] run the shield alone, as a reverse proxy in front of another portal
  preau storm --scenario S [flags]    replay lockdown morning or a flood against a target on this machine
  preau evidence episodes|export|verify
                                     list recorded attack episodes, export one for investigators, check a package

Every flag has a PREAU_* environment equivalent (--max-upload → PREAU_MAX_UPLOAD).
Run "preau serve -h" for the flags.
`

// Main runs the command line and returns the exit code. ctx ends on SIGTERM
// or SIGINT; ready, if not nil, receives the listening address once the
// server accepts connections (tests use it).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, ready chan<- string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr, false, ready)
	case "demo":
		err = serve(ctx, args[1:], stdout, stderr, true, ready)
	case "version":
		fmt.Fprintln(stdout, "preau", app.Version)
	case "user":
		err = userCmd(ctx, args[1:], stdin, stdout, stderr)
	case "import":
		err = importCmd(ctx, args[1:], stdout, stderr)
	case "school":
		err = schoolCmd(ctx, args[1:], stdout, stderr)
	case "shield":
		err = shieldCmd(ctx, args[1:], stderr, ready)
	case "storm":
		err = stormCmd(ctx, args[1:], stdout, stderr)
	case "evidence":
		err = evidenceCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "preau: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "preau:", err)
			return 2
		}
		fmt.Fprintln(stderr, "preau:", err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parse builds the config from flags and environment.
func parse(name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("preau "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, finish := config.Flags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := finish(); err != nil {
		return nil, nil, usageError{msg: "invalid configuration:\n" + err.Error()}
	}
	return cfg, fs, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, isDemo bool, ready chan<- string) error {
	name := "serve"
	if isDemo {
		name = "demo"
	}
	cfg, _, err := parse(name, args, stderr, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.DataDir == "" {
		if !isDemo {
			cfg.DataDir = "preau-data"
		} else {
			dir, err := os.MkdirTemp("", "preau-demo-")
			if err != nil {
				return fmt.Errorf("demo directory: %w", err)
			}
			defer os.RemoveAll(dir)
			cfg.DataDir = dir
		}
	}
	if !isDemo && cfg.DemoSize != "" {
		return usageError{msg: "--size is for preau demo only"}
	}
	a, err := app.Open(ctx, cfg, log, isDemo)
	if err != nil {
		return err
	}
	if isDemo {
		if err := seedDemo(ctx, a, cfg, stdout); err != nil {
			a.Close()
			return err
		}
	}
	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// The connection layer: per-address and per-prefix caps, and client
	// addresses from trusted proxies only.
	guard := netguard.Config{TrustedProxies: cfg.TrustedProxies, ProxyProtocol: cfg.ProxyProtocol,
		MaxPerAddr: cfg.MaxConnsPerAddr, MaxPerPrefix: cfg.MaxConnsPerPrefix,
		OnRefuse: func(reason string, _ netip.Addr) { a.Metrics.ConnRefused(reason) }}
	if a.Shield != nil {
		guard.Shed = a.Shield.ShedConnection
	}
	ln := netguard.NewListener(raw, guard)
	base := cfg.BaseURL
	if strings.HasSuffix(cfg.Addr, ":0") {
		base = "http://" + ln.Addr().String()
	}
	log.Info("preau listening", "addr", ln.Addr().String(), "url", base, "data", cfg.DataDir, "version", app.Version)
	if isDemo {
		fmt.Fprintf(stdout, "\nPréau demo: %s\n\n", base)
		fmt.Fprintf(stdout, "Accounts (password %q):\n", demo.Password)
		for _, acc := range demo.Accounts {
			fmt.Fprintf(stdout, "  %-8s %-8s %s\n", acc.Login, acc.Role, acc.Name)
		}
		fmt.Fprintf(stdout, "\nData in %s (erased on exit unless --data was given). Ctrl-C to stop.\n", cfg.DataDir)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	return a.Serve(ctx, ln)
}

func seedDemo(ctx context.Context, a *app.App, cfg *config.Config, stdout io.Writer) error {
	schools, err := a.Store.Schools(ctx)
	if err != nil {
		return err
	}
	if len(schools) > 0 {
		fmt.Fprintln(stdout, "Existing data found: not seeding again.")
		return nil
	}
	size := demo.Small
	if cfg.DemoSize != "" {
		size.Classes, size.Students, _ = config.ParseSize(cfg.DemoSize)
	}
	fmt.Fprintf(stdout, "Seeding a demo school: %d classes × %d students…\n", size.Classes, size.Students)
	if _, err := demo.Seed(ctx, a.Store, a.Auth.Hasher(), size, a.Service.Now(), cfg.Location()); err != nil {
		return err
	}
	return nil
}

// openApp opens the data directory for an admin command.
func openApp(ctx context.Context, cfg *config.Config, stderr io.Writer) (*app.App, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "preau-data"
	}
	// The running server holds the evidence journals (one writer at a
	// time); an admin command must not try to open them.
	cfg.Evidence = false
	// Nor bind the live classes' ports.
	cfg.Live = false
	return app.Open(ctx, cfg, newLogger(cfg, stderr), false)
}

func schoolCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{msg: "usage: preau school add --name NAME"}
	}
	var name string
	cfg, _, err := parse("school add", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "school name")
	})
	if err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return usageError{msg: "--name is required"}
	}
	a, err := openApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := a.Store.CreateSchool(ctx, domain.School{Name: strings.TrimSpace(name), Timezone: cfg.Timezone})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "school %d: %s\n", s.ID, s.Name)
	return nil
}

// schoolID picks the school an admin command acts on: the one given, or
// the only one.
func schoolID(ctx context.Context, a *app.App, id int64) (domain.SchoolID, error) {
	if id != 0 {
		if _, err := a.Store.School(ctx, domain.SchoolID(id)); err != nil {
			return 0, fmt.Errorf("school %d: %w", id, err)
		}
		return domain.SchoolID(id), nil
	}
	schools, err := a.Store.Schools(ctx)
	if err != nil {
		return 0, err
	}
	switch len(schools) {
	case 0:
		return 0, usageError{msg: "no school yet: create one with preau school add --name NAME"}
	case 1:
		return schools[0].ID, nil
	}
	return 0, usageError{msg: "several schools: choose one with --school ID"}
}

func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{msg: "usage: preau user add --login L --name N --role student|parent|teacher|admin"}
	}
	var login, name, role string
	var school int64
	cfg, _, err := parse("user add", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&login, "login", "", "login")
		fs.StringVar(&name, "name", "", "display name")
		fs.StringVar(&role, "role", "", "student, parent, teacher or admin")
		fs.Int64Var(&school, "school", 0, "school id (default: the only school)")
	})
	if err != nil {
		return err
	}
	login = domain.NormalizeLogin(login)
	var problems []string
	if !domain.ValidLogin(login) {
		problems = append(problems, "--login: 2 to 64 of a-z 0-9 . - _")
	}
	if strings.TrimSpace(name) == "" {
		problems = append(problems, "--name is required")
	}
	if !domain.Role(role).Valid() {
		problems = append(problems, "--role: student, parent, teacher or admin")
	}
	if len(problems) > 0 {
		return usageError{msg: strings.Join(problems, "; ")}
	}
	pw, generated, err := readPassword(stdin)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	sid, err := schoolID(ctx, a, school)
	if err != nil {
		return err
	}
	hash, err := a.Auth.Hasher().Hash(ctx, pw)
	if err != nil {
		return err
	}
	u, err := a.Store.CreateUser(ctx, domain.NewUser{SchoolID: sid, Login: login, DisplayName: strings.TrimSpace(name), Role: domain.Role(role), PasswordHash: hash})
	if err != nil {
		return fmt.Errorf("add user %q: %w", login, err)
	}
	fmt.Fprintf(stdout, "user %d: %s (%s)\n", u.ID, u.Login, u.Role)
	if generated {
		fmt.Fprintf(stdout, "initial password: %s\n", pw)
	}
	return nil
}

// readPassword takes a password piped on stdin (first line), or generates one.
func readPassword(stdin io.Reader) (string, bool, error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return importer.NewPassword(), true, nil
		}
	}
	if stdin == nil {
		return importer.NewPassword(), true, nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1024))
	if err != nil {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	if pw == "" {
		return importer.NewPassword(), true, nil
	}
	if len(pw) < 8 {
		return "", false, usageError{msg: "password too short: at least 8 characters"}
	}
	return pw, false, nil
}

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || (args[0] != "users" && args[0] != "timetable") {
		return usageError{msg: "usage: preau import users|timetable FILE [--apply] [--school ID]"}
	}
	kind, file := importer.Kind(args[0]), args[1]
	var apply bool
	var school int64
	cfg, _, err := parse("import", args[2:], stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&apply, "apply", false, "import the file if it has no problem (default: check only)")
		fs.Int64Var(&school, "school", 0, "school id (default: the only school)")
	})
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	a, err := openApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	sid, err := schoolID(ctx, a, school)
	if err != nil {
		return err
	}
	var progress importer.Progress
	if apply {
		progress = func(done, total int) {
			if total > 0 && (done == total || done%100 == 0) {
				fmt.Fprintf(stderr, "\rpasswords: %d/%d", done, total)
				if done == total {
					fmt.Fprintln(stderr)
				}
			}
		}
	}
	res, err := importer.Run(ctx, a.Store, a.Auth.Hasher(), sid, kind, data, cfg.MaxUploadBytes, apply, progress)
	if err != nil {
		return err
	}
	if !res.Report.OK() {
		fmt.Fprintf(stdout, "%s: %d problem(s); nothing imported.\n", file, len(res.Report.Problems))
		for _, p := range res.Report.Problems {
			fmt.Fprintf(stdout, "  line %d", p.Line)
			if p.Field != "" {
				fmt.Fprintf(stdout, " [%s]", p.Field)
			}
			fmt.Fprintf(stdout, ": %s\n", importer.Describe(p))
		}
		return errors.New("the file has problems")
	}
	if !res.Applied {
		fmt.Fprintf(stdout, "%s: %d row(s), no problem. Run again with --apply to import.\n", file, res.Rows)
		return nil
	}
	c := res.Counts
	fmt.Fprintf(stdout, "%s: imported. %d account(s) created, %d updated, %d class(es), %d group(s) created, %d timetable slot(s).\n",
		file, c.UsersCreated, c.UsersUpdated, c.ClassesCreated, c.GroupsCreated, c.SlotsReplaced)
	if len(res.Credentials) > 0 {
		fmt.Fprintln(stdout, "login,name,initial_password")
		for _, cr := range res.Credentials {
			fmt.Fprintf(stdout, "%s,%q,%s\n", cr.Login, cr.Name, cr.Password)
		}
	}
	return nil
}
