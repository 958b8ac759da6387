package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"preau/internal/evidence/record"
	"preau/internal/evidence/stix"
	"preau/internal/evidence/taxii"
	"preau/internal/shield/detect"
)

// TAXII: the recorded episodes, as STIX bundles, in one read-only
// collection served to the partners listed in --taxii-partners.

// TAXIIRoot and TAXIICollection name the API root and the collection of
// episodes: /taxii2/preau/collections/<TAXIICollection>/objects/.
const (
	TAXIIRoot       = "preau"
	TAXIICollection = "2b1c5a3e-7f0d-4c8e-9a41-6d2f0b7e5c13"
)

// partnersFile is the format of --taxii-partners. Keys are stored as their
// SHA-256 (hex), never in clear: a stolen configuration does not give
// access to the collection.
//
//	{"partners": [
//	  {"name": "cert-academie", "key_sha256": "9f86d08…", "max_tlp": "amber"}
//	]}
type partnersFile struct {
	Partners []struct {
		Name      string `json:"name"`
		KeySHA256 string `json:"key_sha256"`
		MaxTLP    string `json:"max_tlp"`
	} `json:"partners"`
}

// loadPartners reads the partners file, reporting every problem at once.
func loadPartners(path string) ([]taxii.Partner, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--taxii-partners: %w", err)
	}
	var f partnersFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a "key" in clear, or a typo, must not pass silently
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--taxii-partners %s: %w", path, err)
	}
	var errs []error
	out := make([]taxii.Partner, 0, len(f.Partners))
	for i, p := range f.Partners {
		var key [32]byte
		h, err := hex.DecodeString(strings.TrimSpace(p.KeySHA256))
		if err != nil || len(h) != len(key) {
			errs = append(errs, fmt.Errorf("--taxii-partners %s: partner %d (%q): key_sha256 must be 64 hexadecimal digits, the SHA-256 of the key", path, i+1, p.Name))
			continue
		}
		copy(key[:], h)
		out = append(out, taxii.Partner{Name: p.Name, KeyHash: key, MaxTLP: strings.ToLower(p.MaxTLP), Collections: []string{TAXIICollection}})
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("--taxii-partners %s: no partner", path))
	}
	return out, errors.Join(errs...)
}

// KeyHash is the SHA-256 of a partner's API key, in the hexadecimal form
// the partners file takes.
func KeyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// taxiiFeed turns ended episodes into the collection's objects.
type taxiiFeed struct {
	src      *taxii.MemorySource
	producer string
	tlp      string
	log      *slog.Logger
}

// add builds an ended episode's bundle and adds its objects, as added at
// dateAdded. Errors are logged: a bundle that cannot be built must not
// stop the others.
func (f *taxiiFeed) add(id string, start, end time.Time, peak float64, requests uint64, top []detect.Talker, dateAdded time.Time) {
	if end.IsZero() {
		return // still open: its sources are not final
	}
	in := stix.EpisodeInput{Producer: f.producer, TLP: f.tlp, EpisodeID: id, Start: start, End: end,
		PeakRate: peak, Requests: int64(min(requests, 1<<62)), Kind: "http_flood"}
	for _, t := range top {
		a, err := netip.ParseAddr(t.Key)
		// Private and loopback addresses mean nothing to a partner.
		if err != nil || !a.IsGlobalUnicast() || a.IsPrivate() {
			continue
		}
		in.Sources = append(in.Sources, stix.Source{Addr: a, Requests: int64(min(t.Count-t.Err, 1<<62))})
	}
	b, err := stix.BuildEpisodeBundle(in)
	if err == nil {
		var data []byte
		if data, err = json.Marshal(b); err == nil {
			err = f.src.AddBundle(TAXIICollection, data, dateAdded)
		}
	}
	if err != nil {
		f.log.Error("taxii: episode not shared", "episode", id, "err", err)
	}
}

// onEpisodeEnd is the live feed: an episode ends, its objects are added
// now.
func (f *taxiiFeed) onEpisodeEnd(ep *detect.Episode) {
	f.add(ep.ID, ep.Start, ep.End, ep.PeakRate, ep.Requests, ep.TopSources, time.Now())
}

// load adds the episodes recorded before this start. They are dated now:
// a partner polling with added_after gets them again after a restart
// (objects are versioned, so that is harmless), and never misses one.
func (f *taxiiFeed) load(rec *record.Recorder) error {
	eps, err := rec.Episodes()
	if err != nil {
		return fmt.Errorf("app: taxii: recorded episodes: %w", err)
	}
	now := time.Now()
	for _, e := range eps {
		f.add(e.ID, e.Start, e.End, e.PeakRate, e.Requests, e.TopSources, now)
	}
	return nil
}
