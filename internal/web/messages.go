package web

import (
	"net/http"
	"strconv"
	"strings"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/workspace"
)

func (h *handler) showThreads(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	threads, err := h.svc.Threads(r.Context(), p.Membership)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "messages.title", "messages")
	pg.Data = threads
	h.render(w, r, http.StatusOK, "threads", pg)
}

type newThreadData struct {
	Recipients []domain.User
	Selected   map[domain.UserID]bool
}

func (h *handler) showNewThread(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	sel := map[domain.UserID]bool{}
	if to, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64); err == nil {
		sel[domain.UserID(to)] = true
	}
	h.renderNewThread(w, r, p, http.StatusOK, nil, nil, sel)
}

func (h *handler) renderNewThread(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, errs, form map[string]string, sel map[domain.UserID]bool) {
	rec, err := h.svc.Recipients(r.Context(), p.Membership)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "messages.new", "messages")
	pg.Errors, pg.Form = errs, form
	pg.Data = newThreadData{Recipients: rec, Selected: sel}
	h.render(w, r, status, "thread_new", pg)
}

func (h *handler) startThread(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, h.cfg.MaxFiles)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer up.Discard()
	n := workspace.NewThread{Subject: up.Value("subject"), Body: up.Value("body"), Files: up}
	sel := map[domain.UserID]bool{}
	for _, s := range up.Values["to"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		n.To = append(n.To, domain.UserID(id))
		sel[domain.UserID(id)] = true
	}
	t, err := h.svc.StartThread(r.Context(), p.Membership, n)
	if err != nil {
		if errs, ok := fieldErrors(h.lang(r, p), err); ok {
			h.renderNewThread(w, r, p, http.StatusUnprocessableEntity, errs, map[string]string{"subject": n.Subject, "body": n.Body}, sel)
			return
		}
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/messages/"+strconv.FormatInt(int64(t.ID), 10)+"?ok=sent", http.StatusSeeOther)
}

type threadData struct {
	Thread   domain.Thread
	Messages []domain.Message
	Others   string
}

func (h *handler) showThread(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.ThreadID](h, w, r, p)
	if !ok {
		return
	}
	t, msgs, err := h.svc.Thread(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	var names []string
	for _, u := range t.Participants {
		if u.ID != p.User.ID {
			names = append(names, u.DisplayName)
		}
	}
	pg := h.newPage(r, p, "messages.title", "messages")
	pg.Title = t.Subject
	pg.Data = threadData{Thread: t, Messages: msgs, Others: strings.Join(names, ", ")}
	h.render(w, r, http.StatusOK, "thread", pg)
}

func (h *handler) reply(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.ThreadID](h, w, r, p)
	if !ok {
		return
	}
	// Check participation before accepting files.
	if ok, err := h.svc.Store().IsParticipant(r.Context(), id, p.User.ID); err != nil || !ok {
		h.fail(w, r, p, domain.ErrNotFound)
		return
	}
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, h.cfg.MaxFiles)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer up.Discard()
	if _, err := h.svc.Reply(r.Context(), p.Membership, id, up.Value("body"), up); err != nil {
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/messages/"+strconv.FormatInt(int64(id), 10)+"?ok=sent#reply", http.StatusSeeOther)
}

func (h *handler) messageFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := pathID[domain.ThreadID](h, w, r, p)
	if !ok {
		return
	}
	a, err := h.svc.MessageHasAttachment(r.Context(), p.Membership, id, r.PathValue("sum"))
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	httpx.ServeBlob(w, r, h.svc.Blobs(), a)
}
