package slides

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"preau/internal/slides/slidestest"
)

// testPDF writes a PDF of n pages, each with its number in large type.
func testPDF(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "deck.pdf")
	if err := os.WriteFile(p, slidestest.PDF(n), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func needRenderer(t *testing.T) {
	t.Helper()
	if !Available() {
		if os.Getenv("PREAU_REQUIRE_BROWSER") != "" {
			t.Fatal("pdftoppm missing: scripts/test.sh installs poppler-utils")
		}
		t.Skip("pdftoppm not installed (apt-get install poppler-utils)")
	}
}

func TestRenderGivesOneImagePerPageInOrder(t *testing.T) {
	needRenderer(t)
	pages, err := Render(t.Context(), testPDF(t, 12), Options{MaxPixels: 640})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 12 {
		t.Fatalf("%d pages", len(pages))
	}
	seen := map[string]bool{}
	for i, p := range pages {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(p))
		if err != nil || cfg.Width != 640 || cfg.Height != 360 {
			t.Errorf("page %d: %v %+v", i+1, err, cfg)
		}
		seen[string(p)] = true
	}
	if len(seen) != 12 {
		t.Errorf("%d distinct images for 12 different pages", len(seen))
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	needRenderer(t)
	junk := filepath.Join(t.TempDir(), "x.pdf")
	os.WriteFile(junk, []byte("%PDF-1.4 this is not really a PDF"), 0o600)
	if _, err := Render(t.Context(), junk, Options{}); !errors.Is(err, ErrUnreadable) {
		t.Errorf("junk: %v", err)
	}
	if _, err := Render(t.Context(), testPDF(t, 5), Options{MaxPages: 4}); !errors.Is(err, ErrTooManyPages) {
		t.Errorf("5 pages, 4 allowed: %v", err)
	}
	if _, err := Render(t.Context(), testPDF(t, 3), Options{MaxBytes: 100}); !errors.Is(err, ErrTooManyPages) {
		t.Errorf("over the byte budget: %v", err)
	}
}
