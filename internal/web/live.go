package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/i18n"
	"preau/internal/live"
	"preau/internal/liveclass"
	"preau/internal/shield"
)

// The live class pages: the list of classes one may join (and, for
// teachers, the form that starts one), the room itself (its JavaScript,
// static/live.js, speaks the WebSocket protocol of package
// liveclass/signal), slides, the attendance register and the end.

func (h *handler) registerLive(mux *http.ServeMux) error {
	js, err := newStaticFile("static/live.js", "text/javascript; charset=utf-8")
	if err != nil {
		return err
	}
	mux.Handle("GET /static/live.js", js)
	mux.Handle("GET /live", h.user(h.showLive))
	mux.Handle("POST /live", h.user(h.startLive))
	mux.Handle("GET /live/{id}", h.user(h.showRoom))
	mux.Handle("GET /live/{id}/ws", h.user(h.liveSocket))
	mux.Handle("POST /live/{id}/end", h.user(h.endLive))
	mux.Handle("POST /live/{id}/slides", h.user(h.uploadSlides))
	mux.Handle("GET /live/{id}/decks/{deck}/{page}", h.user(h.slidePage))
	mux.Handle("GET /live/{id}/attendance.csv", h.user(h.attendanceCSV))
	mux.Handle("GET /live/{id}/chat.csv", h.user(h.chatCSV))
	return nil
}

var zeroTime time.Time

// liveJSURL is the versioned address of the room's script.
var liveJSURL = "/static/live.js"

func init() {
	if b, err := staticFiles.ReadFile("static/live.js"); err == nil {
		liveJSURL = "/static/live.js?v=" + versionOf(b)
	}
}

type audienceOption struct {
	Value, Name string
}

type liveListData struct {
	Classes   []live.Info
	Audiences []audienceOption // empty for those who cannot start a class
	Running   bool             // one of Classes runs
}

func audienceValue(a domain.Audience) string {
	if a.GroupID != 0 {
		return fmt.Sprintf("group:%d", a.GroupID)
	}
	return fmt.Sprintf("class:%d", a.ClassID)
}

func parseAudience(s string) (domain.Audience, bool) {
	kind, idStr, _ := strings.Cut(s, ":")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return domain.Audience{}, false
	}
	switch kind {
	case "class":
		return domain.Audience{ClassID: domain.ClassID(id)}, true
	case "group":
		return domain.Audience{GroupID: domain.GroupID(id)}, true
	}
	return domain.Audience{}, false
}

// showLive lists the live classes the user may join; teachers and staff
// also get the form that starts one, prefilled from the timetable or the
// diary (?audience=class:12&title=…&entry=…).
func (h *handler) showLive(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	form := map[string]string{"audience": q.Get("audience"), "title": q.Get("title"), "entry": q.Get("entry")}
	h.renderLive(w, r, p, http.StatusOK, nil, form)
}

func (h *handler) renderLive(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, errs, form map[string]string) {
	if h.cfg.Live == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	ctx := r.Context()
	classes, err := h.cfg.Live.Current(ctx, p.Membership)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	d := liveListData{Classes: classes}
	for _, c := range classes {
		d.Running = d.Running || c.Running()
	}
	if p.User.Role.Staff() {
		cls, grps, err := h.svc.Audiences(ctx, p.Membership)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		for _, c := range cls {
			d.Audiences = append(d.Audiences, audienceOption{audienceValue(domain.Audience{ClassID: c.ID}), c.Name})
		}
		for _, g := range grps {
			d.Audiences = append(d.Audiences, audienceOption{audienceValue(domain.Audience{GroupID: g.ID}), g.Name})
		}
	}
	pg := h.newPage(r, p, "live.title", "live")
	pg.Errors, pg.Form, pg.Data = errs, form, d
	h.render(w, r, status, "live", pg)
}

// startLive starts a class and opens its room.
func (h *handler) startLive(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Live == nil || !p.User.Role.Staff() {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	form := map[string]string{"audience": r.PostFormValue("audience"), "title": strings.TrimSpace(r.PostFormValue("title")),
		"entry": r.PostFormValue("entry"), "waiting": r.PostFormValue("waiting"), "invite": strings.TrimSpace(r.PostFormValue("invite"))}
	lang := h.lang(r, p)
	errs := map[string]string{}
	a, ok := parseAudience(form["audience"])
	if !ok {
		errs["audience"] = tr(lang, "err.audience")
	}
	req := live.StartRequest{Audience: a, Title: form["title"], WaitingRoom: form["waiting"] == "1"}
	if n, err := strconv.ParseInt(form["entry"], 10, 64); err == nil && n > 0 {
		req.EntryID = domain.EntryID(n)
	}
	req.Invite = strings.FieldsFunc(form["invite"], func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' })
	if len(errs) > 0 {
		h.renderLive(w, r, p, http.StatusUnprocessableEntity, errs, form)
		return
	}
	c, err := h.cfg.Live.Start(r.Context(), p.Membership, req)
	if errors.Is(err, live.ErrAlreadyRunning) {
		http.Redirect(w, r, fmt.Sprintf("/live/%d", c.ID), http.StatusSeeOther)
		return
	}
	if err != nil {
		if fe, ok := fieldErrors(lang, err); ok {
			h.renderLive(w, r, p, http.StatusUnprocessableEntity, fe, form)
			return
		}
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/live/%d", c.ID), http.StatusSeeOther)
}

type roomData struct {
	Class   domain.LiveClass
	Role    liveclass.Role
	Host    bool
	Me      liveclass.ParticipantID
	Strings template.JS // the script's messages, as a JSON object
	Palette []string
}

// liveStrings are the messages live.js shows, in the page's language.
var liveStrings = []string{
	"live.status.connecting", "live.status.connected", "live.status.reconnecting", "live.status.ended", "live.status.waiting",
	"live.status.removed", "live.status.replaced", "live.status.locked", "live.status.queued", "live.media.video", "live.media.audio", "live.media.data",
	"live.media.connecting", "live.media.lost", "live.role.host", "live.role.guest", "live.role.student", "live.hand_raised",
	"live.grant_mic", "live.revoke_mic", "live.grant_board", "live.revoke_board", "live.remove", "live.lower_hand", "live.admit",
	"live.mic_on", "live.mic_off", "live.camera_on", "live.camera_off", "live.screen_on", "live.screen_off", "live.vote",
	"live.poll_results", "live.poll_close", "live.voters", "live.you", "live.page_of", "live.waiting_position", "live.no_media_device",
	"live.presence.disconnected", "live.reaction.thumbs_up", "live.reaction.clap", "live.reaction.laugh", "live.reaction.surprised",
	"live.reaction.question", "live.reaction.slower", "live.reaction.faster", "live.reaction_from", "live.chat_from", "live.no_poll",
}

// liveID reads the class of a live route; without live classes
// (--live=false) every such route is the ordinary 404.
func (h *handler) liveID(w http.ResponseWriter, r *http.Request, p *auth.Principal) (domain.LiveClassID, bool) {
	if h.cfg.Live == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return 0, false
	}
	return pathID[domain.LiveClassID](h, w, r, p)
}

// showRoom is the room page. Without JavaScript it says what the class
// needs and links to the register; with it, live.js runs the class.
func (h *handler) showRoom(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	c, role, err := h.cfg.Live.Class(r.Context(), p.Membership, id)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	if !c.Running() {
		http.Redirect(w, r, "/live", http.StatusSeeOther)
		return
	}
	lang := h.lang(r, p)
	msgs := make(map[string]string, len(liveStrings))
	for _, k := range liveStrings {
		msgs[strings.TrimPrefix(k, "live.")] = i18n.T(lang, k)
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	// The room is the one page that uses the camera, the microphone and
	// the screen: it lifts, for its own origin, what the site-wide
	// Permissions-Policy forbids everywhere else (getUserMedia would fail
	// at once).
	w.Header().Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), interest-cohort=()")
	pg := h.newPage(r, p, "live.title", "live")
	pg.Title = c.Title
	pg.Script = liveJSURL
	pg.Data = roomData{Class: c, Role: role, Host: role == liveclass.RoleHost, Me: liveclass.ParticipantIDFor(p.User.ID),
		Strings: template.JS(b), Palette: liveclass.Palette}
	h.render(w, r, http.StatusOK, "live_room", pg)
}

// liveSocket hands the WebSocket to the live service.
func (h *handler) liveSocket(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	// The connection lives for the whole class: it gives back its slot of
	// the shield's admission (it was admitted as it opened), and the
	// server's read and write timeouts do not apply to it.
	shield.Detach(w)
	rc := http.NewResponseController(w)
	if err := errors.Join(rc.SetReadDeadline(zeroTime), rc.SetWriteDeadline(zeroTime)); err != nil {
		h.log.Debug("live: clear the connection's deadlines", "err", err)
	}
	h.cfg.Live.ServeWS(w, r, p.Membership, h.lang(r, p), id)
}

func (h *handler) endLive(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	if err := h.cfg.Live.End(r.Context(), p.Membership, id); err != nil {
		h.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/live?ok=live_ended", http.StatusSeeOther)
}

// uploadSlides turns a PDF into the class's slides. The form works
// without JavaScript (it comes back to the room).
func (h *handler) uploadSlides(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	if _, role, err := h.cfg.Live.Class(r.Context(), p.Membership, id); err != nil || role != liveclass.RoleHost {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, 1)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer up.Discard()
	files := up.Files["slides"]
	if len(files) != 1 {
		h.fail(w, r, p, domain.Invalid("slides", "live.err.slides_missing"))
		return
	}
	if err := up.Keep(); err != nil {
		h.fail(w, r, p, err)
		return
	}
	f, err := h.svc.Blobs().Open(files[0].SHA256)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	path := f.Name()
	f.Close()
	if _, err := h.cfg.Live.AddSlides(r.Context(), p.Membership, id, path, files[0].Name); err != nil {
		h.fail(w, r, p, err)
		return
	}
	if r.Header.Get("Accept") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/live/%d", id), http.StatusSeeOther)
}

// slidePage serves a page image. A deck's pages never change: they are
// cached for a year, so a pupil on a weak line downloads each once.
func (h *handler) slidePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	deck, err1 := strconv.ParseInt(r.PathValue("deck"), 10, 64)
	page, err2 := strconv.Atoi(r.PathValue("page"))
	if err1 != nil || err2 != nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	sum, err := h.cfg.Live.SlidePage(r.Context(), p.Membership, id, deck, page)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	f, err := h.svc.Blobs().Open(sum)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	w.Header().Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, "", zeroTime, f)
}

func (h *handler) attendanceCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.liveCSV(w, r, p, "presence", h.cfg.Live.AttendanceCSV)
}

func (h *handler) chatCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.liveCSV(w, r, p, "chat", h.cfg.Live.ChatCSV)
}

// liveCSV answers a class's CSV download (hosts only: write refuses the
// others), named after what it holds, the day and the audience.
func (h *handler) liveCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal, what string,
	write func(context.Context, domain.Membership, domain.LiveClassID, io.Writer) (domain.LiveClass, error)) {
	id, ok := h.liveID(w, r, p)
	if !ok {
		return
	}
	var buf strings.Builder
	c, err := write(r.Context(), p.Membership, id, &buf)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	name := fmt.Sprintf("%s-%s-%s.csv", what, c.StartedAt.In(h.cfg.Location).Format("2006-01-02"), c.AudienceName)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(httpx.CleanFileName(name)))
	// A BOM so that Excel reads the UTF-8 names right.
	w.Write([]byte("\ufeff" + buf.String()))
}
