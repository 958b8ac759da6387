package attrib

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

const unknown = "unknown"

// loadRanges loads an ASN or country dataset, as MMDB when the file name
// ends in ".mmdb" and as CSV otherwise.
func loadRanges(path string, kind Kind) (Dataset, source, error) {
	wrap := func(err error) error { return fmt.Errorf("attrib: load %s dataset: %w", kind, err) }
	if path == "" {
		return Dataset{}, nil, wrap(errors.New("empty file name"))
	}
	if strings.EqualFold(filepath.Ext(path), ".mmdb") {
		// Read whole: the reader needs the bytes in memory, and hashing
		// the same slice it reads ties the checksum to what is consulted.
		data, err := os.ReadFile(path)
		if err != nil {
			return Dataset{}, nil, wrap(err)
		}
		src, err := openMMDB(data, kind)
		if err != nil {
			return Dataset{}, nil, wrap(fmt.Errorf("%s: %w", path, err))
		}
		sum := sha256.Sum256(data)
		ds, err := describe(path, kind, hex.EncodeToString(sum[:]), &src.r.Metadata)
		if err != nil {
			return Dataset{}, nil, wrap(err)
		}
		return ds, src, nil
	}
	var t *rangeTable
	sum, err := hashing(path, func(r io.Reader) (err error) {
		t, err = parseRangeCSV(r, kind, path)
		return err
	})
	if err != nil {
		return Dataset{}, nil, wrap(err)
	}
	ds, err := describe(path, kind, sum, nil)
	if err != nil {
		return Dataset{}, nil, wrap(err)
	}
	return ds, t, nil
}

// loadList loads an operator list.
func loadList(path string, kind Kind) (*listSource, error) {
	wrap := func(err error) error { return fmt.Errorf("attrib: load %s list: %w", kind, err) }
	if path == "" {
		return nil, wrap(errors.New("empty file name"))
	}
	var l *listSource
	sum, err := hashing(path, func(r io.Reader) (err error) {
		l, err = parseList(r, kind, path)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	if l.dataset, err = describe(path, kind, sum, nil); err != nil {
		return nil, wrap(err)
	}
	base := filepath.Base(path)
	l.addrReason = fmt.Sprintf("listed in %s (%s list)", base, kind)
	l.asnReason = fmt.Sprintf("AS listed in %s (%s list)", base, kind)
	return l, nil
}

// hashing streams the file at path through parse and returns the hex
// SHA-256 of exactly the bytes parse was given.
func hashing(path string, parse func(io.Reader) error) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if err := parse(io.TeeReader(f, h)); err != nil {
		return "", err
	}
	// A parser may stop early; hash the rest so the sum covers the file.
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: read: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// datasetMeta is the shape of a sidecar FILE.dataset.json and of the parts
// of an npm package.json that are used.
type datasetMeta struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Licence string          `json:"licence"`
	License json.RawMessage `json:"license"` // npm: a string, or {"type": ...} in old packages
}

func (m *datasetMeta) licence() string {
	if m.Licence != "" {
		return m.Licence
	}
	var s string
	if json.Unmarshal(m.License, &s) == nil && s != "" {
		return s
	}
	var o struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(m.License, &o) == nil && o.Type != "" {
		return o.Type
	}
	return ""
}

// SidecarSuffix is appended to a data file's name to find its optional
// metadata file, e.g. tor-exits.txt.dataset.json holding
// {"name": "Tor bulk exit list", "version": "2025-01-31", "licence": "CC0-1.0"}.
const SidecarSuffix = ".dataset.json"

// describe names the dataset at path: from its sidecar, else from the npm
// package around it, else from MMDB metadata, else from its file name.
func describe(path string, kind Kind, sum string, md *maxminddb.Metadata) (Dataset, error) {
	ds := Dataset{Name: filepath.Base(path), Version: unknown, Licence: unknown, SHA256: sum, Kind: kind, File: path}
	meta, dir, err := findMeta(path)
	if err != nil {
		return ds, err
	}
	switch {
	case meta != nil:
		if meta.Name != "" {
			ds.Name = meta.Name
		}
		if meta.Version != "" {
			ds.Version = meta.Version
		}
		if l := meta.licence(); l != "" {
			ds.Licence = l
		}
		if dir != "" {
			if files := licenceFiles(dir); len(files) > 0 {
				ds.Licence += " (licence files in package: " + strings.Join(files, ", ") + ")"
			}
		}
	case md != nil:
		if md.DatabaseType != "" {
			ds.Name = md.DatabaseType
		}
		if md.BuildEpoch != 0 {
			ds.Version = "built " + md.BuildTime().UTC().Format(time.RFC3339)
		}
	}
	return ds, nil
}

// findMeta returns the sidecar's metadata, or else that of an npm package
// whose package.json sits in path's directory or the one above (with that
// directory). It looks no higher so as not to mistake an unrelated project
// for the data's package. A malformed sidecar is an error; a package.json
// without a name is ignored.
func findMeta(path string) (*datasetMeta, string, error) {
	if b, err := os.ReadFile(path + SidecarSuffix); err == nil {
		var m datasetMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, "", fmt.Errorf("%s%s: %w", path, SidecarSuffix, err)
		}
		return &m, "", nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	dir := filepath.Dir(path)
	for range 2 {
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err == nil {
			var m datasetMeta
			if json.Unmarshal(b, &m) == nil && m.Name != "" {
				return &m, dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return nil, "", nil
}

// licenceFiles names the licence files in dir. ip-location-db packages ship
// them beside a package.json whose licence field does not always agree
// (geo-whois-asn-country says CC0-1.0 but ships NRO's CC BY 4.0 terms).
func licenceFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		n := strings.ToUpper(e.Name())
		if !e.IsDir() && (strings.Contains(n, "LICENSE") || strings.Contains(n, "LICENCE")) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}
