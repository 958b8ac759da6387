package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"preau/internal/app"
	"preau/internal/config"
	"preau/internal/evidence/attrib"
	"preau/internal/evidence/export"
)

const evidenceUsage = `Usage:
  preau evidence episodes [--json] [--evidence-dir DIR | --data DIR]
      list the recorded attack episodes
  preau evidence export --episode ID --case REF --tlp LEVEL --out DIR [--raw]
                        [--pseudonymise-key-file FILE] [--ip-data DIR | --asn-data F --country-data F ...]
      write an episode's evidence package for investigators
  preau evidence verify DIR
      check an evidence package offline (exit 0 when intact, 1 otherwise)

The evidence directory is the server's: --evidence-dir, or DATA/evidence with
--data (default preau-data), PREAU_EVIDENCE_DIR, PREAU_DATA or --config FILE.
Both commands read it without locking it, so they work while Préau runs; the
newest records (under a minute old) are covered once Préau signs its next
checkpoint.
`

// evidenceCmd runs "preau evidence episodes|export|verify".
func evidenceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{msg: "missing evidence command\n" + evidenceUsage}
	}
	switch args[0] {
	case "episodes":
		return evidenceEpisodes(args[1:], stdout, stderr)
	case "export":
		return evidenceExport(ctx, args[1:], stdout, stderr)
	case "verify":
		return evidenceVerify(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, evidenceUsage)
		return nil
	}
	return usageError{msg: fmt.Sprintf("unknown evidence command %q\n%s", args[0], evidenceUsage)}
}

// evidenceFlags parses the server's configuration (so that --config,
// --data, --evidence-dir and their PREAU_* variables work as for serve)
// plus the command's own flags, and returns the evidence directory. Its
// help shows the command's flags and the two that locate the directory,
// not every server flag.
func evidenceFlags(name, synopsis string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*config.Config, string, error) {
	var own []string
	cfg, _, err := parse("evidence "+name, args, stderr, func(fs *flag.FlagSet) {
		before := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
		extra(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !before[f.Name] {
				own = append(own, f.Name)
			}
		})
		own = append(own, "evidence-dir", "data", "config")
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: preau evidence %s %s\n\n", name, synopsis)
			for _, n := range own {
				f := fs.Lookup(n)
				if f == nil {
					continue
				}
				fmt.Fprintf(fs.Output(), "  --%s\n    \t%s", f.Name, f.Usage)
				if f.DefValue != "" && f.DefValue != "false" {
					fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
				}
				fmt.Fprintln(fs.Output())
			}
			fmt.Fprintln(fs.Output(), "\nThe server's other flags are accepted too, so that one --config file serves both.")
		}
	})
	if err != nil {
		return nil, "", err
	}
	dir := cfg.EvidenceDir
	if dir == "" {
		data := cfg.DataDir
		if data == "" {
			data = "preau-data"
		}
		dir = filepath.Join(data, "evidence")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "", fmt.Errorf("no evidence directory at %s: give the server's --evidence-dir or --data (or --config)", dir)
	case err != nil:
		return nil, "", fmt.Errorf("evidence directory: %w", err)
	case !fi.IsDir():
		return nil, "", fmt.Errorf("evidence directory %s is not a directory", dir)
	}
	return cfg, dir, nil
}

// episodeJSON is one episode in `preau evidence episodes --json`.
type episodeJSON struct {
	ID         string         `json:"id"`
	Start      time.Time      `json:"start"`
	End        *time.Time     `json:"end"` // null while open
	PeakRate   float64        `json:"peak_rate"`
	Requests   int64          `json:"requests"`
	MaxLevel   string         `json:"max_level"`
	TopSources []export.Count `json:"top_sources"`
	Unsigned   bool           `json:"unsigned"`
}

func evidenceEpisodes(args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	_, dir, err := evidenceFlags("episodes", "[--json]", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	})
	if err != nil {
		return err
	}
	eps, err := export.ListEpisodes(dir)
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]episodeJSON, 0, len(eps))
		for _, e := range eps {
			j := episodeJSON{ID: e.ID, Start: e.Start, PeakRate: e.PeakRate, Requests: e.Requests, MaxLevel: e.MaxLevel,
				TopSources: e.TopSources, Unsigned: e.Unsigned}
			if !e.Open() {
				end := e.End
				j.End = &end
			}
			if j.TopSources == nil {
				j.TopSources = []export.Count{}
			}
			out = append(out, j)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fmt.Errorf("episodes: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if len(eps) == 0 {
		fmt.Fprintf(stdout, "No episode recorded in %s.\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART (UTC)\tEND (UTC)\tPEAK REQ/S\tREQUESTS\tMAX LEVEL\tTOP SOURCES")
	var unsigned []string
	for _, e := range eps {
		end := "open"
		if !e.Open() {
			end = e.End.UTC().Format(time.DateTime)
		}
		var top []string
		for _, c := range e.TopSources[:min(len(e.TopSources), 3)] {
			top = append(top, fmt.Sprintf("%s (%d)", c.Key, c.Count))
		}
		if len(e.TopSources) > 3 {
			top = append(top, fmt.Sprintf("+%d", len(e.TopSources)-3))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%d\t%s\t%s\n", e.ID, e.Start.UTC().Format(time.DateTime), end, e.PeakRate, e.Requests,
			e.MaxLevel, strings.Join(top, ", "))
		if e.Unsigned {
			unsigned = append(unsigned, e.ID)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(unsigned) > 0 {
		fmt.Fprintf(stdout, "\nNewer records of %s are not covered by a signed checkpoint yet (Préau signs one every minute it records):\n"+
			"an export now leaves them out; run again in a minute.\n", strings.Join(unsigned, ", "))
	}
	return nil
}

func evidenceExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		id, caseRef, tlp, out, keyFile, ipData, producer string
		asn, country, tor, proxy, hosting                string
		raw                                              bool
	)
	cfg, dir, err := evidenceFlags("export", "--episode ID --case REF --tlp LEVEL --out DIR [flags]", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&id, "episode", "", "episode id, as preau evidence episodes lists it (required)")
		fs.StringVar(&caseRef, "case", "", "the investigators' case reference, e.g. a procès-verbal number (required)")
		fs.StringVar(&tlp, "tlp", "", "TLP 2.0 level of the package: clear, green, amber, amber+strict or red (required)")
		fs.StringVar(&out, "out", "", "package directory to create; must not exist or be empty (required)")
		fs.BoolVar(&raw, "raw", false, "include the raw request records (paths, user agents, ports); default: per-minute aggregates only")
		fs.StringVar(&keyFile, "pseudonymise-key-file", "", "replace addresses by HMAC-SHA256 pseudonyms keyed by this file's bytes (at least 16, e.g. head -c 32 /dev/urandom); keep the file to confirm a pseudonym later")
		fs.StringVar(&ipData, "ip-data", "", "attribute sources with the datasets scripts/fetch-ip-data.sh put in this directory (its datasets.txt)")
		fs.StringVar(&asn, "asn-data", "", "comma-separated ASN datasets (.mmdb or @ip-location-db CSV)")
		fs.StringVar(&country, "country-data", "", "comma-separated country datasets (.mmdb or @ip-location-db CSV)")
		fs.StringVar(&tor, "tor-list", "", "comma-separated Tor exit lists")
		fs.StringVar(&proxy, "proxy-list", "", "comma-separated anonymising proxy lists")
		fs.StringVar(&hosting, "hosting-list", "", "comma-separated hosting AS or network lists")
		fs.StringVar(&producer, "producer", "Préau", "organisation named as the producer in the STIX bundle and the report")
	})
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--episode", id}, {"--case", caseRef}, {"--tlp", tlp}, {"--out", out}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return usageError{msg: strings.Join(missing, ", ") + " required; see preau evidence export -h"}
	}
	o := export.Options{Dir: dir, EpisodeID: id, CaseRef: caseRef, TLP: strings.ToLower(tlp), Out: out, Raw: raw,
		Producer: producer, Version: app.Version, Logger: newLogger(cfg, stderr)}
	if keyFile != "" {
		if o.Pseudonymise, err = os.ReadFile(keyFile); err != nil {
			return fmt.Errorf("--pseudonymise-key-file: %w", err)
		}
		if len(o.Pseudonymise) < 16 {
			return usageError{msg: fmt.Sprintf("--pseudonymise-key-file %s holds %d bytes; at least 16 are needed (head -c 32 /dev/urandom > FILE)", keyFile, len(o.Pseudonymise))}
		}
	}
	acfg := attrib.Config{ASNFiles: splitList(asn), CountryFiles: splitList(country), TorFiles: splitList(tor),
		ProxyFiles: splitList(proxy), HostingFiles: splitList(hosting)}
	var listed map[string]string
	if ipData != "" {
		if listed, err = ipDataConfig(ipData, &acfg); err != nil {
			return err
		}
	}
	if len(acfg.ASNFiles)+len(acfg.CountryFiles)+len(acfg.TorFiles)+len(acfg.ProxyFiles)+len(acfg.HostingFiles) > 0 {
		if o.Attributor, err = attrib.Load(acfg); err != nil {
			return err
		}
		// fetch-ip-data.sh listed each file's SHA-256: a file changed since
		// is not the dataset the operator meant to cite.
		for _, d := range o.Attributor.Datasets() {
			if want, ok := listed[d.File]; ok && want != d.SHA256 {
				return fmt.Errorf("--ip-data: %s has SHA-256 %s, but datasets.txt lists %s: fetch the data again", d.File, d.SHA256, want)
			}
		}
	}
	o.Progress = progress(stderr)

	sum, err := export.Export(ctx, o)
	switch {
	case errors.Is(err, export.ErrEpisodeNotFound):
		return fmt.Errorf("episode %q is not in %s: list the episodes with preau evidence episodes", id, dir)
	case errors.Is(err, export.ErrNotYetSigned):
		return fmt.Errorf("episode %q has no record covered by a signed checkpoint yet: Préau signs one every minute it records; export again in a minute", id)
	case errors.Is(err, export.ErrInvalidOptions):
		return usageError{msg: err.Error()}
	case err != nil:
		return err
	}
	printSummary(stdout, sum, o)
	return nil
}

// progress reports the records read on one line of w, at most once a
// second and at the end.
func progress(w io.Writer) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		final := done == total
		if !final && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		pct := 100
		if total > 0 {
			pct = int(100 * done / total)
		}
		fmt.Fprintf(w, "\rreading the evidence: %d of about %d records (%d%%)", done, total, pct)
		if final {
			fmt.Fprintln(w)
		}
	}
}

func printSummary(w io.Writer, sum export.Summary, o export.Options) {
	ep := sum.Episode
	end := "open (the episode had not ended: its latest signed record)"
	if !ep.Open() {
		end = ep.End.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Exported episode %s to %s\n", ep.ID, sum.Out)
	fmt.Fprintf(w, "  case %s, TLP:%s\n", o.CaseRef, strings.ToUpper(o.TLP))
	fmt.Fprintf(w, "  window (UTC): %s to %s\n", ep.Start.UTC().Format(time.RFC3339), end)
	var entries []string
	for _, s := range []string{export.StreamEvents, export.StreamSources, export.StreamRequests} {
		entries = append(entries, fmt.Sprintf("%s %d", s, sum.Entries[s]))
	}
	fmt.Fprintf(w, "  records: %s", strings.Join(entries, ", "))
	if !sum.Raw {
		fmt.Fprint(w, " (raw requests left out: add --raw to include them)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  sources.csv: %d source addresses", sum.Sources)
	if o.Attributor == nil {
		fmt.Fprint(w, " (no attribution: AS and country columns are empty; see --ip-data)")
	}
	fmt.Fprintln(w)
	if sum.Pseudonymised {
		fmt.Fprintln(w, "  addresses pseudonymised; entries.jsonl replaced by leaves.jsonl (hashes only)")
	}
	fmt.Fprintf(w, "  proofs: %d runs of records against %d signed checkpoints; %d files\n", sum.Runs, len(sum.Checkpoints), len(sum.Files))
	if n := sum.TotalLeftOut(); n > 0 {
		fmt.Fprintf(w, "Note: %d records of this episode are newer than the latest signed checkpoint and are not in the package.\n"+
			"      Préau signs a checkpoint every minute it records: export again in a minute to include them.\n", n)
	}
	for _, warn := range sum.Warnings {
		fmt.Fprintf(w, "Warning: %s\n", warn)
	}
	fmt.Fprintf(w, "Signer key fingerprint (SHA-256): %s\n", sum.SignerFingerprint)
	fmt.Fprintln(w, "  give it to the recipients through another channel than the package.")
	fmt.Fprintf(w, "Check the package with:\n  preau evidence verify %s\n", sum.Out)
}

// splitList splits a comma-separated list of file names.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ipDataConfig adds the datasets that scripts/fetch-ip-data.sh listed in
// DIR/datasets.txt ("package version licence sha256 path", tab-separated)
// to cfg, in the order listed: the first country dataset wins. A package
// whose name mentions "country" or "city" is a country dataset, else one
// that mentions "asn" an ASN dataset. It returns the listed SHA-256 of each
// file, by path.
func ipDataConfig(dir string, cfg *attrib.Config) (map[string]string, error) {
	path := filepath.Join(dir, "datasets.txt")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--ip-data: %w (run scripts/fetch-ip-data.sh %s first)", err, dir)
	}
	defer f.Close()
	sums := map[string]string{}
	var errs []error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 5 || !filepath.IsLocal(fields[4]) {
			errs = append(errs, fmt.Errorf("%s:%d: want package, version, licence, sha256 and a relative path, tab-separated", path, n))
			continue
		}
		pkg, file := strings.ToLower(fields[0]), filepath.Join(dir, fields[4])
		switch {
		case strings.Contains(pkg, "country") || strings.Contains(pkg, "city"):
			cfg.CountryFiles = append(cfg.CountryFiles, file)
		case strings.Contains(pkg, "asn"):
			cfg.ASNFiles = append(cfg.ASNFiles, file)
		default:
			errs = append(errs, fmt.Errorf("%s:%d: package %s is neither an ASN nor a country dataset", path, n, fields[0]))
			continue
		}
		sums[file] = fields[3]
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("--ip-data: %w", err))
	}
	if len(sums) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s lists no dataset", path))
	}
	return sums, errors.Join(errs...)
}

func evidenceVerify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preau evidence verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: preau evidence verify DIR\n\n"+
			"Checks an evidence package offline: every file against MANIFEST.sha256 and no file unlisted, the manifest's\n"+
			"signature, each checkpoint's signature, every record's inclusion proof, that the records belong to the episode,\n"+
			"and that the CSVs, the timeline totals and the STIX bundle agree with them. Exit status 0 when intact, 1 otherwise.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{msg: "usage: preau evidence verify DIR"}
	}
	dir := fs.Arg(0)
	probs, err := export.Verify(dir)
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		fmt.Fprintf(stdout, "FAILED: %s: %d problem(s):\n", dir, len(probs))
		for _, p := range probs {
			file := p.File
			if file == "" {
				file = "(package)"
			}
			fmt.Fprintf(stdout, "  %s: %s: %s\n", file, p.Check, p.Detail)
		}
		return fmt.Errorf("%s failed verification: %d problem(s)", dir, len(probs))
	}
	fmt.Fprintf(stdout, "OK: %s is intact: manifest and signature, checkpoints, inclusion proofs, episode membership, CSVs, timeline and STIX bundle verified.\n", dir)
	// metadata.json is consistent with signer.pem once verified.
	var md struct {
		Episode struct {
			ID string `json:"id"`
		} `json:"episode"`
		Signer struct {
			Fingerprint string `json:"sha256_of_public_key"`
		} `json:"signer"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "metadata.json")); err == nil && json.Unmarshal(b, &md) == nil {
		fmt.Fprintf(stdout, "Episode %s, signed by the key with SHA-256 fingerprint %s:\n"+
			"compare it with the one the school gave you through another channel.\n", md.Episode.ID, md.Signer.Fingerprint)
	}
	return nil
}
