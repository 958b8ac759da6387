package web

import (
	"archive/zip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/workspace"
)

// submit stores a hand-in and shows its receipt. The files reach the blob
// store (fsynced) while the body streams in; the row commits after them.
func (h *handler) submit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	// Refuse before reading any file: only a pupil of the homework's
	// audience may hand in, and only for homework that takes hand-ins.
	if _, err := h.svc.CheckSubmit(r.Context(), p.Membership, id); err != nil {
		h.fail(w, r, p, err)
		return
	}
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, h.cfg.MaxFiles)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer up.Discard()
	sub, err := h.svc.Submit(r.Context(), p.Membership, id, up.Value("text"), up)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/submissions/"+strconv.FormatInt(int64(sub.ID), 10)+"?new=1", http.StatusSeeOther)
}

type submissionData struct {
	Submission domain.Submission
	Entry      domain.Entry
	Receipt    workspace.Receipt
	New        bool
	CanMark    bool
}

func (h *handler) loadSubmission(w http.ResponseWriter, r *http.Request, p *auth.Principal) (submissionData, bool) {
	id, ok := pathID[domain.SubmissionID](h, w, r, p)
	if !ok {
		return submissionData{}, false
	}
	sub, e, err := h.svc.Submission(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return submissionData{}, false
	}
	student, err := h.svc.Store().User(r.Context(), sub.StudentID)
	if err != nil {
		h.fail(w, r, p, err)
		return submissionData{}, false
	}
	return submissionData{Submission: sub, Entry: e, Receipt: workspace.NewReceipt(sub, e, student.Login, h.cfg.ReceiptKey),
		New: r.URL.Query().Get("new") == "1", CanMark: workspace.CanMark(p.Membership, e)}, true
}

func (h *handler) showSubmission(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := h.loadSubmission(w, r, p)
	if !ok {
		return
	}
	pg := h.newPage(r, p, "handin.receipt_title", "homework")
	pg.Data = d
	h.render(w, r, http.StatusOK, "submission", pg)
}

// receiptText is the downloadable receipt: the signed canonical text.
func (h *handler) receiptText(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := h.loadSubmission(w, r, p)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment",
		map[string]string{"filename": fmt.Sprintf("preau-recu-%d.txt", d.Submission.ID)}))
	fmt.Fprintf(w, "Préau — %s\n%s\n%s", d.Receipt.StudentName, d.Receipt.Homework, d.Receipt.Canonical())
	fmt.Fprintf(w, "mac: %s\n", d.Receipt.MAC)
}

func (h *handler) submissionFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := h.loadSubmission(w, r, p)
	if !ok {
		return
	}
	sum := r.PathValue("sum")
	for _, f := range d.Submission.Files {
		if f.SHA256 == sum {
			httpx.ServeBlob(w, r, h.svc.Blobs(), f)
			return
		}
	}
	h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
}

type submissionsData struct {
	CanMark     bool
	Entry       domain.Entry
	Submissions []domain.Submission
	Missing     []domain.User
	Completion  domain.Completion
}

// showSubmissions is the teacher's view of a homework's hand-ins, with the
// students who have not handed anything in.
func (h *handler) showSubmissions(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	e, err := h.svc.Entry(ctx, p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	if !workspace.CanReview(p.Membership, e) {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	subs, err := h.svc.Submissions(ctx, p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	students, err := h.svc.Store().AudienceStudents(ctx, e.Audience)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	handed := map[domain.UserID]bool{}
	for _, s := range subs {
		handed[s.StudentID] = true
	}
	d := submissionsData{Entry: e, Submissions: subs, CanMark: workspace.CanMark(p.Membership, e)}
	for _, s := range students {
		if !handed[s.ID] {
			d.Missing = append(d.Missing, s)
		}
	}
	if d.Completion, err = h.svc.Completion(ctx, id); err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "handin.submissions", "homework")
	pg.Title = e.Subject + " — " + e.Title
	pg.Data = d
	h.render(w, r, http.StatusOK, "submissions", pg)
}

// submissionsZip streams every submission of a homework as one zip: one
// folder per student and submission, with the text and a receipt.
func (h *handler) submissionsZip(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	ctx := r.Context()
	e, err := h.svc.Entry(ctx, p.Membership, id)
	if err == nil && !workspace.CanReview(p.Membership, e) {
		err = domain.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	subs, err := h.svc.Submissions(ctx, p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment",
		map[string]string{"filename": fmt.Sprintf("rendus-%d.zip", e.ID)}))
	zw := zip.NewWriter(w)
	for _, s := range subs {
		dir := fmt.Sprintf("%s-%d/", zipName(s.StudentName), s.ID)
		if s.Text != "" {
			if err := writeZipFile(zw, dir+"texte.txt", strings.NewReader(s.Text)); err != nil {
				h.log.Error("zip text", "submission", s.ID, "err", err)
				return
			}
		}
		for i, f := range s.Files {
			rc, err := h.svc.Blobs().Open(f.SHA256)
			if err != nil {
				h.log.Error("zip file", "submission", s.ID, "sha256", f.SHA256, "err", err)
				return
			}
			err = writeZipFile(zw, fmt.Sprintf("%s%d-%s", dir, i+1, zipName(f.Name)), rc)
			rc.Close()
			if err != nil {
				h.log.Error("zip file", "submission", s.ID, "err", err)
				return
			}
		}
		student, err := h.svc.Store().User(ctx, s.StudentID)
		if err != nil {
			h.log.Error("zip receipt", "submission", s.ID, "err", err)
			return
		}
		rc := workspace.NewReceipt(s, e, student.Login, h.cfg.ReceiptKey)
		if err := writeZipFile(zw, dir+"recu.txt", strings.NewReader(rc.Canonical()+"mac: "+rc.MAC+"\n")); err != nil {
			return
		}
	}
	if err := zw.Close(); err != nil {
		h.log.Error("zip close", "entry", id, "err", err)
	}
}

func writeZipFile(zw *zip.Writer, name string, r io.Reader) error {
	f, err := zw.Create(name)
	if err != nil {
		return fmt.Errorf("zip create %s: %w", name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("zip write %s: %w", name, err)
	}
	return nil
}

// zipName makes a safe path component for a zip entry.
func zipName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == ':' || r < 0x20:
			return '_'
		}
		return r
	}, httpx.CleanFileName(s))
	return path.Clean(s)
}

func (h *handler) feedback(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.SubmissionID](h, w, r, p)
	if !ok {
		return
	}
	f := domain.Feedback{Text: strings.TrimSpace(r.PostFormValue("feedback")), OutOf: 20}
	verr := &domain.ValidationError{}
	if s := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("mark"), ",", ".")); s != "" {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil {
			verr.Add("mark", "err.mark_number")
		}
		f.Mark = &m
	}
	if s := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("out_of"), ",", ".")); s != "" {
		o, err := strconv.ParseFloat(s, 64)
		if err != nil {
			verr.Add("out_of", "err.mark_number")
		}
		f.OutOf = o
	}
	var err error = verr.Err()
	var sub domain.Submission
	if err == nil {
		sub, err = h.svc.ReturnFeedback(r.Context(), p.Membership, id, f)
	}
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	back := "/homework/" + strconv.FormatInt(int64(sub.EntryID), 10) + "/submissions?ok=feedback#sub-" + strconv.FormatInt(int64(id), 10)
	http.Redirect(w, r, back, http.StatusSeeOther)
}
