package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/workspace"
)

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Login) == "" || in.Password == "" {
		h.error(w, r, http.StatusUnprocessableEntity, domain.CodeInvalid, "err.login_required")
		return
	}
	token, p, err := h.auth.Login(r.Context(), in.Login, in.Password, httpx.ClientAddr(r), r.UserAgent())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "user": userView(p.User)})
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := h.auth.Logout(r.Context(), p.SessionID); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	out := struct {
		userJSON
		Children []userJSON `json:"children,omitempty"`
		Unread   int        `json:"unread"`
	}{userJSON: userView(p.User)}
	for _, c := range p.Membership.Children {
		out.Children = append(out.Children, userView(c))
	}
	n, err := h.svc.Unread(r.Context(), p.Membership)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out.Unread = n
	writeJSON(w, http.StatusOK, out)
}

// window reads from= and to= (dates YYYY-MM-DD or RFC 3339 instants);
// by default the current week. to is exclusive; a date means its midnight.
func (h *handler) window(r *http.Request) (time.Time, time.Time, error) {
	from, to := workspace.WeekBounds(h.svc.Now(), h.cfg.Location)
	parse := func(s string) (time.Time, error) {
		if t, err := time.ParseInLocation("2006-01-02", s, h.cfg.Location); err == nil {
			return t, nil
		}
		return time.Parse(time.RFC3339, s)
	}
	var err error
	if s := r.URL.Query().Get("from"); s != "" {
		if from, err = parse(s); err != nil {
			return from, to, domain.Invalid("from", "err.date")
		}
	}
	if s := r.URL.Query().Get("to"); s != "" {
		if to, err = parse(s); err != nil {
			return from, to, domain.Invalid("to", "err.date")
		}
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		return from, to, domain.Invalid("to", "err.window")
	}
	return from, to, nil
}

func (h *handler) listHomework(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	from, to, err := h.window(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []entryJSON{}
	if p.User.Role == domain.RoleParent {
		kids, err := h.svc.ChildrenHomework(r.Context(), p.Membership, from, to)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, k := range kids {
			for _, it := range k.Items {
				j := itemView(it, domain.RoleParent)
				j.StudentID = int64(k.Child.ID)
				out = append(out, j)
			}
		}
	} else {
		items, err := h.svc.Homework(r.Context(), p.Membership, from, to)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, it := range items {
			out = append(out, itemView(it, p.User.Role))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "homework": out})
}

func (h *handler) getEntry(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](w, r, h)
	if !ok {
		return
	}
	e, err := h.svc.Entry(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j := entryView(e)
	if p.User.Role == domain.RoleStudent && e.Kind == domain.KindHomework {
		st, err := h.svc.Status(r.Context(), p.User.ID, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		j.Status = &statusJSON{Done: st.Done, Submissions: st.Submissions, Late: e.HandIn && st.Submissions == 0 && h.svc.Now().After(e.DueAt)}
	}
	if workspace.CanReview(p.Membership, e) && e.Kind == domain.KindHomework {
		c, err := h.svc.Completion(r.Context(), id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		j.Completion = &completionJSON{Students: c.Students, Done: c.Done, Submitted: c.Submitted}
	}
	writeJSON(w, http.StatusOK, j)
}

// publish takes JSON (no attachments) for scripts and apps.
func (h *handler) publish(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Kind        string     `json:"kind"`
		ClassID     int64      `json:"class_id"`
		GroupID     int64      `json:"group_id"`
		Subject     string     `json:"subject"`
		Title       string     `json:"title"`
		Description string     `json:"description"`
		LessonDate  *time.Time `json:"lesson_date"`
		DueAt       *time.Time `json:"due_at"`
		PublishAt   *time.Time `json:"publish_at"`
		HandIn      bool       `json:"hand_in"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	n := domain.NewEntry{Kind: domain.EntryKind(in.Kind), Audience: domain.Audience{ClassID: domain.ClassID(in.ClassID), GroupID: domain.GroupID(in.GroupID)},
		Subject: strings.TrimSpace(in.Subject), Title: strings.TrimSpace(in.Title), Description: in.Description, HandIn: in.HandIn}
	for _, f := range []struct {
		src *time.Time
		dst *time.Time
	}{{in.LessonDate, &n.LessonDate}, {in.DueAt, &n.DueAt}, {in.PublishAt, &n.PublishAt}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	e, err := h.svc.Publish(r.Context(), p.Membership, n, domain.NoFiles)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/homework/"+strconv.FormatInt(int64(e.ID), 10))
	writeJSON(w, http.StatusCreated, entryView(e))
}

func (h *handler) setDone(done bool) authed {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		id, ok := pathID[domain.EntryID](w, r, h)
		if !ok {
			return
		}
		if err := h.svc.SetDone(r.Context(), p.Membership, id, done); err != nil {
			h.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// submit takes multipart/form-data: "files" (any number) and "text". The
// 201 answer is the receipt: it is sent only once the submission is durable.
func (h *handler) submit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](w, r, h)
	if !ok {
		return
	}
	// Refuse before reading any file: only a pupil of the homework's
	// audience may hand in, and only for homework that takes hand-ins.
	if _, err := h.svc.CheckSubmit(r.Context(), p.Membership, id); err != nil {
		h.fail(w, r, err)
		return
	}
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, h.cfg.MaxFiles)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer up.Discard()
	sub, err := h.svc.Submit(r.Context(), p.Membership, id, up.Value("text"), up)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeSubmission(w, r, http.StatusCreated, sub, p)
}

func (h *handler) writeSubmission(w http.ResponseWriter, r *http.Request, status int, sub domain.Submission, p *auth.Principal) {
	_, e, err := h.svc.Submission(r.Context(), p.Membership, sub.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	student, err := h.svc.Store().User(r.Context(), sub.StudentID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rc := workspace.NewReceipt(sub, e, student.Login, h.cfg.ReceiptKey)
	j := submissionView(sub)
	j.Receipt = &receiptJSON{Canonical: rc.Canonical(), MAC: rc.MAC}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/v1/submissions/"+strconv.FormatInt(int64(sub.ID), 10))
	}
	writeJSON(w, status, j)
}

func (h *handler) listSubmissions(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](w, r, h)
	if !ok {
		return
	}
	subs, err := h.svc.Submissions(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []submissionJSON{}
	for _, s := range subs {
		out = append(out, submissionView(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"submissions": out})
}

func (h *handler) getSubmission(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.SubmissionID](w, r, h)
	if !ok {
		return
	}
	sub, _, err := h.svc.Submission(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeSubmission(w, r, http.StatusOK, sub, p)
}

func (h *handler) feedback(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.SubmissionID](w, r, h)
	if !ok {
		return
	}
	var in struct {
		Text  string   `json:"text"`
		Mark  *float64 `json:"mark"`
		OutOf float64  `json:"out_of"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	sub, err := h.svc.ReturnFeedback(r.Context(), p.Membership, id, domain.Feedback{Text: strings.TrimSpace(in.Text), Mark: in.Mark, OutOf: in.OutOf})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, submissionView(sub))
}

func (h *handler) listThreads(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ts, err := h.svc.Threads(r.Context(), p.Membership)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	unread := 0
	out := []threadJSON{}
	for _, t := range ts {
		out = append(out, threadView(t))
		unread += t.Unread
	}
	writeJSON(w, http.StatusOK, map[string]any{"unread": unread, "threads": out})
}

func (h *handler) getThread(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.ThreadID](w, r, h)
	if !ok {
		return
	}
	t, msgs, err := h.svc.Thread(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []messageJSON{}
	for _, m := range msgs {
		out = append(out, messageView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"thread": threadView(t), "messages": out})
}

func (h *handler) startThread(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		To      []int64 `json:"to"`
		Subject string  `json:"subject"`
		Body    string  `json:"body"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	n := workspace.NewThread{Subject: in.Subject, Body: in.Body}
	for _, id := range in.To {
		n.To = append(n.To, domain.UserID(id))
	}
	t, err := h.svc.StartThread(r.Context(), p.Membership, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/messages/"+strconv.FormatInt(int64(t.ID), 10))
	writeJSON(w, http.StatusCreated, map[string]any{"id": int64(t.ID)})
}

func (h *handler) reply(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.ThreadID](w, r, h)
	if !ok {
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if !h.decode(w, r, &in) {
		return
	}
	m, err := h.svc.Reply(r.Context(), p.Membership, id, in.Body, domain.NoFiles)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, messageView(m))
}

func (h *handler) timetable(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var slots []domain.Slot
	var err error
	if s := r.URL.Query().Get("student"); s != "" && p.User.Role == domain.RoleParent {
		id, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			h.fail(w, r, domain.ErrNotFound)
			return
		}
		slots, err = h.svc.ChildWeek(r.Context(), p.Membership, domain.UserID(id))
	} else {
		slots, err = h.svc.Week(r.Context(), p.Membership)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []slotJSON{}
	for _, s := range slots {
		out = append(out, slotView(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"slots": out})
}
