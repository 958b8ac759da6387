package slides

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// testPDF writes a PDF of n pages, each with its number in large type,
// built by hand (objects and a correct cross-reference table).
func testPDF(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n")
	kids := ""
	for i := range n {
		kids += fmt.Sprintf("%d 0 R ", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i := range n {
		content := fmt.Sprintf("BT /F1 96 Tf 100 250 Td (Page %d) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 800 450] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	p := filepath.Join(t.TempDir(), "deck.pdf")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
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
