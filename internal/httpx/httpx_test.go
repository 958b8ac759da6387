package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"preau/internal/blob"
	"preau/internal/domain"
)

func multipartBody(t *testing.T, fields map[string]string, files map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, content := range files {
		w, err := mw.CreateFormFile("files", name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func countBlobs(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(filepath.Join(dir, "sha256"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestParseUploadStoresFilesAndFields(t *testing.T) {
	dir := t.TempDir()
	blobs, _ := blob.Open(dir)
	ct, body := multipartBody(t, map[string]string{"text": "bonjour"}, map[string]string{"../../etc/copie.pdf": "PDF", "b.txt": "B"})
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	up, err := ParseUpload(httptest.NewRecorder(), req, blobs, 1<<20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if up.Value("text") != "bonjour" || len(up.Attachments()) != 2 {
		t.Fatalf("upload = %+v", up)
	}
	for _, f := range up.Attachments() {
		if strings.Contains(f.Name, "/") || blobs.Has(f.SHA256) {
			t.Errorf("file %+v: bad name, or in the store before Keep", f)
		}
	}
	if err := up.Keep(); err != nil {
		t.Fatal(err)
	}
	for _, f := range up.Attachments() {
		if !blobs.Has(f.SHA256) {
			t.Errorf("file %+v not stored after Keep", f)
		}
	}
}

func TestParseUploadRefusesOversizedBodies(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			dir := t.TempDir()
			blobs, _ := blob.Open(dir)
			ct, body := multipartBody(t, nil, map[string]string{"big.bin": big})
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // hides the length
			}
			req := httptest.NewRequest("POST", "/", r)
			if chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", ct)
			_, err := ParseUpload(httptest.NewRecorder(), req, blobs, 4096, 5)
			if !errors.Is(err, domain.ErrTooLarge) || Status(err) != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %v (status %d), want 413", err, Status(err))
			}
			if n := countBlobs(t, dir); n != 0 {
				t.Errorf("%d blobs stored from a refused upload", n)
			}
		})
	}
}

func TestParseUploadLimitsFileCount(t *testing.T) {
	blobs, _ := blob.Open(t.TempDir())
	ct, body := multipartBody(t, nil, map[string]string{"a": "1", "b": "2", "c": "3"})
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if _, err := ParseUpload(httptest.NewRecorder(), req, blobs, 1<<20, 2); Status(err) != http.StatusUnprocessableEntity {
		t.Errorf("3 files with a limit of 2: %v", err)
	}
}

func TestParseUploadRejectsGarbage(t *testing.T) {
	blobs, _ := blob.Open(t.TempDir())
	req := httptest.NewRequest("POST", "/", strings.NewReader("--x\r\nnot a part"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if _, err := ParseUpload(httptest.NewRecorder(), req, blobs, 1<<20, 2); Status(err) != http.StatusUnprocessableEntity {
		t.Errorf("garbage: %v (status %d)", err, Status(err))
	}
	req = httptest.NewRequest("POST", "/", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseUpload(httptest.NewRecorder(), req, blobs, 1<<20, 2); Status(err) != http.StatusUnprocessableEntity {
		t.Errorf("not multipart: %v", err)
	}
}

func TestStatusMapping(t *testing.T) {
	for err, want := range map[error]int{
		domain.ErrNotFound:                       404,
		fmt.Errorf("x: %w", domain.ErrConflict):  409,
		domain.Invalid("f", "k"):                 422,
		domain.ErrRateLimited:                    429,
		errors.New("disk on fire"):               500,
		&http.MaxBytesError{Limit: 1}:            413,
		fmt.Errorf("w: %w", domain.ErrTooLarge):  413,
		fmt.Errorf("hash: %w", context.Canceled): 499,
	} {
		if got := Status(err); got != want {
			t.Errorf("Status(%v) = %d, want %d", err, got, want)
		}
	}
}

func FuzzCleanFileName(f *testing.F) {
	for _, s := range []string{"copie.pdf", "../../etc/passwd", "C:\\Users\\léa\\devoir.docx", "", ".", "..", "a\x00b", "\xff\xfe", strings.Repeat("é", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := CleanFileName(name)
		if got == "" || got == "." || got == ".." || len(got) > 200 || !utf8.ValidString(got) {
			t.Fatalf("CleanFileName(%q) = %q", name, got)
		}
		if strings.ContainsAny(got, "/\\\"\x00\n\r") {
			t.Fatalf("CleanFileName(%q) = %q keeps a separator or control", name, got)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	h := SecurityHeaders(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	rec = httptest.NewRecorder()
	SecurityHeaders(true, h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS when served over TLS")
	}
}
