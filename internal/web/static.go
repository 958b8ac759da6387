package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// cssURL is the stylesheet's address, versioned by its content so browsers
// may cache it for a year and still get a new one after an upgrade.
var cssURL = "/static/preau.css"

func init() {
	b, err := staticFiles.ReadFile("static/preau.css")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	sum := sha256.Sum256(b)
	cssURL = "/static/preau.css?v=" + hex.EncodeToString(sum[:6])
}

// StylesheetURL is the versioned address of the stylesheet, for pages served
// outside this package (the shield's waiting room and challenge).
func StylesheetURL() string { return cssURL }

// staticFile serves one embedded file, gzipped in advance for clients that
// accept it: a weak phone connection gets the stylesheet in about 2 KB.
type staticFile struct {
	ctype     string
	plain, gz []byte
	etag      string
	modTime   time.Time
}

func newStaticFile(name, ctype string) (*staticFile, error) {
	b, err := staticFiles.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("web: read %s: %w", name, err)
	}
	sum := sha256.Sum256(b)
	version := hex.EncodeToString(sum[:6])
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("web: gzip %s: %w", name, err)
	}
	return &staticFile{ctype: ctype, plain: b, gz: gz.Bytes(), etag: `"` + version + `"`}, nil
}

func (f *staticFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.plain
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.Write(body)
}

// versionOf is the content version of a static file, for its address.
func versionOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}
