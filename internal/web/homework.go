package web

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/workspace"
)

type subjectGroup struct {
	Subject string
	Items   []workspace.Item
}

type homeworkData struct {
	View       string // today, week, subject
	From, To   time.Time
	Prev, Next string // week navigation (yyyy-mm-dd)
	Items      []workspace.Item
	BySubject  []subjectGroup
	Children   []workspace.ChildItems
	Lessons    []workspace.Item
	CanPublish bool
}

// showHomework lists homework: Today, This week (with previous/next week)
// or By subject (the next four weeks).
func (h *handler) showHomework(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := p.Membership
	loc := h.cfg.Location
	now := h.svc.Now()
	d := homeworkData{View: r.URL.Query().Get("view"), CanPublish: v.User.Role.Staff()}
	anchor := now
	if s := r.URL.Query().Get("week"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			h.errorPage(w, r, p, http.StatusBadRequest, "err.date")
			return
		}
		anchor, d.View = t, "week"
	}
	switch d.View {
	case "today":
		d.From, d.To = workspace.DayBounds(now, loc)
	case "subject":
		d.From, _ = workspace.DayBounds(now, loc)
		d.To = d.From.AddDate(0, 0, 28)
	default:
		d.View = "week"
		d.From, d.To = workspace.WeekBounds(anchor, loc)
		d.Prev, d.Next = d.From.AddDate(0, 0, -7).Format("2006-01-02"), d.To.Format("2006-01-02")
	}
	var err error
	if v.User.Role == domain.RoleParent {
		d.Children, err = h.svc.ChildrenHomework(r.Context(), v, d.From, d.To)
	} else {
		d.Items, err = h.svc.Homework(r.Context(), v, d.From, d.To)
		if err == nil && d.View != "subject" {
			d.Lessons, err = h.svc.Lessons(r.Context(), v, d.From, d.To)
		}
	}
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	if d.View == "subject" {
		d.BySubject = groupBySubject(d.Items)
	}
	pg := h.newPage(r, p, "homework.title", "homework")
	pg.Data = d
	h.render(w, r, http.StatusOK, "homework", pg)
}

func groupBySubject(items []workspace.Item) []subjectGroup {
	idx := map[string]int{}
	var out []subjectGroup
	for _, it := range items {
		i, ok := idx[it.Subject]
		if !ok {
			i = len(out)
			idx[it.Subject] = i
			out = append(out, subjectGroup{Subject: it.Subject})
		}
		out[i].Items = append(out[i].Items, it)
	}
	slices.SortFunc(out, func(a, b subjectGroup) int {
		return cmp.Compare(strings.ToLower(a.Subject), strings.ToLower(b.Subject))
	})
	return out
}

type entryData struct {
	Entry       domain.Entry
	Status      domain.EntryStatus
	Completion  domain.Completion
	Submissions []domain.Submission
	CanSubmit   bool
	CanReview   bool
	Late        bool // a submission now would be late
}

func (h *handler) showEntry(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	pg := h.newPage(r, p, "homework.entry", "homework")
	d, err := h.entryData(r, p, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg.Title = d.Entry.Subject + " — " + d.Entry.Title
	pg.Data = d
	h.render(w, r, http.StatusOK, "entry", pg)
}

func (h *handler) entryData(r *http.Request, p *auth.Principal, id domain.EntryID) (entryData, error) {
	ctx := r.Context()
	v := p.Membership
	e, err := h.svc.Entry(ctx, v, id)
	if err != nil {
		return entryData{}, err
	}
	d := entryData{Entry: e, CanReview: workspace.CanReview(v, e)}
	if e.Kind != domain.KindHomework {
		return d, nil
	}
	switch v.User.Role {
	case domain.RoleStudent:
		if d.Status, err = h.svc.Status(ctx, v.User.ID, id); err != nil {
			return d, err
		}
		d.CanSubmit = e.HandIn
		d.Late = h.svc.Now().After(e.DueAt)
		if d.Submissions, err = h.svc.Submissions(ctx, v, id); err != nil {
			return d, err
		}
	case domain.RoleParent:
		if d.Submissions, err = h.svc.Submissions(ctx, v, id); err != nil {
			return d, err
		}
	default:
		if d.Completion, err = h.svc.Completion(ctx, id); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (h *handler) setDone(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	done := r.PostFormValue("done") == "1"
	if err := h.svc.SetDone(r.Context(), p.Membership, id, done); err != nil {
		h.fail(w, r, p, err)
		return
	}
	flash := "done"
	if !done {
		flash = "undone"
	}
	back := "/homework/" + strconv.FormatInt(int64(id), 10)
	if next := r.PostFormValue("next"); next != "" {
		back = safeNext(next)
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"ok="+flash, http.StatusSeeOther)
}

type newEntryData struct {
	Classes []domain.Class
	Groups  []domain.Group
}

func (h *handler) showNewEntry(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.renderNewEntry(w, r, p, http.StatusOK, nil, map[string]string{"kind": "homework", "handin": "1"})
}

func (h *handler) renderNewEntry(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, errs, form map[string]string) {
	if !p.User.Role.Staff() {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	classes, groups, err := h.svc.Audiences(r.Context(), p.Membership)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "homework.new", "homework")
	pg.Errors, pg.Form = errs, form
	pg.Data = newEntryData{Classes: classes, Groups: groups}
	h.render(w, r, status, "entry_new", pg)
}

// publish handles the diary form (multipart: it may carry attachments).
func (h *handler) publish(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !p.User.Role.Staff() {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, h.cfg.MaxFiles)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer up.Discard()
	lang := h.lang(r, p)
	form := map[string]string{}
	for _, k := range []string{"audience", "kind", "subject", "title", "description", "date", "due", "due_time", "publish", "publish_time", "handin"} {
		form[k] = strings.TrimSpace(up.Value(k))
	}
	n, verr := parseEntryForm(form, h.cfg.Location)
	if verr.Err() == nil {
		_, err = h.svc.Publish(r.Context(), p.Membership, n, up)
	} else {
		err = verr
	}
	if err != nil {
		if errs, ok := fieldErrors(lang, err); ok {
			h.renderNewEntry(w, r, p, http.StatusUnprocessableEntity, errs, form)
			return
		}
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/homework?ok=published", http.StatusSeeOther)
}

// parseEntryForm turns the diary form into a NewEntry, recording format
// problems; Publish checks the rest.
func parseEntryForm(f map[string]string, loc *time.Location) (domain.NewEntry, *domain.ValidationError) {
	verr := &domain.ValidationError{}
	n := domain.NewEntry{Kind: domain.EntryKind(f["kind"]), Subject: f["subject"], Title: f["title"],
		Description: f["description"], HandIn: f["handin"] == "1"}
	kind, idStr, _ := strings.Cut(f["audience"], ":")
	id, err := strconv.ParseInt(idStr, 10, 64)
	switch {
	case err != nil:
		verr.Add("audience", "err.audience")
	case kind == "class":
		n.Audience.ClassID = domain.ClassID(id)
	case kind == "group":
		n.Audience.GroupID = domain.GroupID(id)
	default:
		verr.Add("audience", "err.audience")
	}
	parse := func(field, day, clock, defClock string) time.Time {
		if day == "" {
			return time.Time{}
		}
		if clock == "" {
			clock = defClock
		}
		t, err := time.ParseInLocation("2006-01-02 15:04", day+" "+clock, loc)
		if err != nil {
			verr.Add(field, "err.date")
		}
		return t
	}
	n.LessonDate = parse("date", f["date"], "", "08:00")
	n.DueAt = parse("due", f["due"], f["due_time"], "08:00")
	n.PublishAt = parse("publish", f["publish"], f["publish_time"], "00:00")
	return n, verr
}

func (h *handler) entryFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.EntryID](h, w, r, p)
	if !ok {
		return
	}
	e, err := h.svc.Entry(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	sum := r.PathValue("sum")
	for _, a := range e.Attachments {
		if a.SHA256 == sum {
			httpx.ServeBlob(w, r, h.svc.Blobs(), a)
			return
		}
	}
	h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
}
