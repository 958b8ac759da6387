// Package slides turns a PDF a teacher uploads for a live class into page
// images: JPEG, 1280 pixels at most on the longer side, small enough that
// a pupil on a 100 kbps line gets a new slide in a few seconds, and stored
// in the blob store under their SHA-256, so they are cached forever.
//
// The rendering is poppler's pdftoppm (Debian package poppler-utils), run
// as a separate process on untrusted input: bounded in pages, time and
// output size, with no shell and an empty environment. A PDF that poppler
// cannot read, that has too many pages or that takes too long is refused
// with an error wrapping ErrUnreadable, ErrTooManyPages or ErrTooSlow.
package slides

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors a caller turns into a message for the teacher.
var (
	ErrUnreadable   = errors.New("slides: not a PDF poppler can read")
	ErrTooManyPages = errors.New("slides: too many pages")
	ErrTooSlow      = errors.New("slides: rendering took too long")
	ErrNoRenderer   = errors.New("slides: pdftoppm not found (install poppler-utils)")
)

// Options bound a rendering. Zero values take the defaults noted.
type Options struct {
	MaxPages  int           // 100
	MaxPixels int           // longer side of a page image (1280)
	Quality   int           // JPEG quality (70)
	Timeout   time.Duration // whole rendering (2 min)
	MaxBytes  int64         // all page images together (64 MiB)
}

func (o Options) withDefaults() Options {
	if o.MaxPages <= 0 {
		o.MaxPages = 100
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 1280
	}
	if o.Quality <= 0 || o.Quality > 100 {
		o.Quality = 70
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	return o
}

// Available reports whether the renderer is installed.
func Available() bool {
	_, err := exec.LookPath("pdftoppm")
	return err == nil
}

var pagesRE = regexp.MustCompile(`(?m)^Pages:\s+(\d+)\s*$`)

// Render renders the PDF at path and returns its pages as JPEG images, in
// order. It is safe for concurrent use; each call runs its own processes
// in its own temporary directory.
func Render(ctx context.Context, path string, o Options) ([][]byte, error) {
	o = o.withDefaults()
	info, err := exec.LookPath("pdfinfo")
	if err != nil {
		return nil, ErrNoRenderer
	}
	render, err := exec.LookPath("pdftoppm")
	if err != nil {
		return nil, ErrNoRenderer
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	out, err := run(ctx, info, path)
	if err != nil {
		return nil, err
	}
	m := pagesRE.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("pdfinfo gave no page count: %w", ErrUnreadable)
	}
	pages, err := strconv.Atoi(string(m[1]))
	if err != nil || pages < 1 {
		return nil, fmt.Errorf("page count %q: %w", m[1], ErrUnreadable)
	}
	if pages > o.MaxPages {
		return nil, fmt.Errorf("%d pages, at most %d: %w", pages, o.MaxPages, ErrTooManyPages)
	}

	dir, err := os.MkdirTemp("", "preau-slides-")
	if err != nil {
		return nil, fmt.Errorf("slides: %w", err)
	}
	defer os.RemoveAll(dir)
	if _, err := run(ctx, render, "-jpeg", "-jpegopt", "quality="+strconv.Itoa(o.Quality), "-scale-to", strconv.Itoa(o.MaxPixels),
		"-l", strconv.Itoa(pages), path, filepath.Join(dir, "p")); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "p-*.jpg"))
	if err != nil {
		return nil, fmt.Errorf("slides: %w", err)
	}
	// pdftoppm pads page numbers to the width of the last one: p-01.jpg …
	// p-12.jpg sort as text.
	slices.Sort(names)
	if len(names) != pages {
		return nil, fmt.Errorf("%d page images for %d pages: %w", len(names), pages, ErrUnreadable)
	}
	var total int64
	imgs := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("slides: %w", err)
		}
		if total += int64(len(b)); total > o.MaxBytes {
			return nil, fmt.Errorf("page images over %d bytes: %w", o.MaxBytes, ErrTooManyPages)
		}
		imgs = append(imgs, b)
	}
	return imgs, nil
}

// run runs a poppler tool with an empty environment and classifies its
// failure.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &limited{w: &stderr, n: 4096}
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), ErrTooSlow)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s: %w", filepath.Base(name), err, strings.TrimSpace(stderr.String()), ErrUnreadable)
	}
	return stdout.Bytes(), nil
}

// limited keeps the first n bytes written: a broken PDF can make poppler
// print an error per object.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
