package httpx

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"preau/internal/blob"
	"preau/internal/domain"
)

// Upload is a parsed multipart form whose files were streamed to the blob
// store's staging area: nothing is buffered in memory beyond small text
// fields, and nothing is in the store until Keep. It implements
// domain.Files for its "files" field.
type Upload struct {
	Values map[string][]string
	Files  map[string][]domain.Attachment
	staged []*blob.Staged
}

// Attachments returns the files of the "files" field.
func (u *Upload) Attachments() []domain.Attachment { return u.Files["files"] }

// Keep moves every staged file into the store.
func (u *Upload) Keep() error {
	for _, st := range u.staged {
		if err := st.Commit(); err != nil {
			return fmt.Errorf("upload: keep %s: %w", st.Sum, err)
		}
	}
	return nil
}

// Discard deletes the files that were not kept. Handlers defer it.
func (u *Upload) Discard() {
	for _, st := range u.staged {
		st.Discard()
	}
}

// Value returns the first value of a text field.
func (u *Upload) Value(name string) string {
	if v := u.Values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MaxFieldBytes bounds one text field of a multipart form.
const MaxFieldBytes = 1 << 20

// ParseUpload streams a multipart/form-data body. A body announced larger
// than maxBody is refused before reading; a chunked body is cut at maxBody.
// Both give an error wrapping domain.ErrTooLarge. At most maxFiles files.
// On error nothing is left on disk; on success the caller must Keep or
// Discard the upload.
func ParseUpload(w http.ResponseWriter, r *http.Request, blobs *blob.Store, maxBody int64, maxFiles int) (up *Upload, err error) {
	if r.ContentLength > maxBody {
		return nil, fmt.Errorf("upload of %d bytes: %w", r.ContentLength, domain.ErrTooLarge)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, domain.Invalid("files", "err.multipart")
	}
	parsed := &Upload{Values: map[string][]string{}, Files: map[string][]domain.Attachment{}}
	defer func() {
		if err != nil {
			parsed.Discard()
		}
	}()
	up = parsed
	files := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		if err != nil {
			return nil, uploadErr(err)
		}
		name := part.FormName()
		if name == "" {
			part.Close()
			continue
		}
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, MaxFieldBytes+1))
			part.Close()
			if err != nil {
				return nil, uploadErr(err)
			}
			if len(b) > MaxFieldBytes {
				return nil, fmt.Errorf("field %q: %w", name, domain.ErrTooLarge)
			}
			up.Values[name] = append(up.Values[name], string(b))
			continue
		}
		att, st, err := stagePart(part, blobs, maxBody)
		part.Close()
		if err != nil {
			return nil, err
		}
		if st == nil {
			continue // a file input left empty by the browser
		}
		up.staged = append(up.staged, st)
		files++
		if files > maxFiles {
			return nil, domain.Invalid(name, "err.too_many_files", maxFiles)
		}
		up.Files[name] = append(up.Files[name], att)
	}
}

func stagePart(part *multipart.Part, blobs *blob.Store, max int64) (domain.Attachment, *blob.Staged, error) {
	st, err := blobs.Stage(part, max)
	if err != nil {
		return domain.Attachment{}, nil, uploadErr(err)
	}
	if st.Size == 0 && st.Sum == emptySHA256 {
		st.Discard()
		return domain.Attachment{}, nil, nil
	}
	ct := part.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
		ct = "application/octet-stream"
	}
	return domain.Attachment{Name: CleanFileName(part.FileName()), ContentType: ct, Size: st.Size, SHA256: st.Sum}, st, nil
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func uploadErr(err error) error {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return fmt.Errorf("upload: %w: %w", domain.ErrTimeout, err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, domain.ErrTooLarge) {
		return fmt.Errorf("upload: %w: %w", domain.ErrTooLarge, err)
	}
	return fmt.Errorf("upload: %w", domain.Invalid("files", "err.multipart"))
}

// CleanFileName keeps the base name of an uploaded file, without path,
// control characters or invalid UTF-8, at most 200 bytes.
func CleanFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '/' {
			return '_'
		}
		return r
	}, name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		name = "file"
	}
	return name
}

// ServeBlob sends a stored file as a download.
func ServeBlob(w http.ResponseWriter, r *http.Request, blobs *blob.Store, a domain.Attachment) {
	f, err := blobs.Open(a.SHA256)
	if err != nil {
		http.Error(w, "file not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	// Served as attachments so an uploaded HTML file can never run as a page
	// of this origin.
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.Header().Set("ETag", `"`+a.SHA256+`"`)
	http.ServeContent(w, r, "", timeZero, f)
}
