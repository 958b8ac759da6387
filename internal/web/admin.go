package web

import (
	"context"
	"io"
	"net/http"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/importer"
)

type adminData struct {
	School   domain.School
	Counts   map[domain.Role]int
	Classes  []domain.Class
	Groups   []domain.Group
	Operator bool // may use the operator pages (shield, episodes, blocklist)
}

func (h *handler) showAdmin(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	st := h.svc.Store()
	d := adminData{Counts: map[domain.Role]int{}}
	var err error
	if d.School, err = st.School(ctx, p.User.SchoolID); err != nil {
		h.fail(w, r, p, err)
		return
	}
	users, err := st.Users(ctx, p.User.SchoolID, "")
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	for _, u := range users {
		d.Counts[u.Role]++
	}
	if d.Classes, d.Groups, err = h.svc.Audiences(ctx, p.Membership); err != nil {
		h.fail(w, r, p, err)
		return
	}
	if d.Operator, err = h.isOperator(ctx, p); err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "admin.title", "admin")
	pg.Data = d
	h.render(w, r, http.StatusOK, "admin", pg)
}

func (h *handler) showUsers(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	role := domain.Role(r.URL.Query().Get("role"))
	if role != "" && !role.Valid() {
		role = ""
	}
	users, err := h.svc.Store().Users(r.Context(), p.User.SchoolID, role)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "admin.users", "admin")
	pg.Data = users
	pg.Form = map[string]string{"role": string(role)}
	h.render(w, r, http.StatusOK, "users", pg)
}

type importData struct {
	Kind   string
	Sum    string // blob of the uploaded file, for the confirm step
	Result *importer.Result
}

func (h *handler) showImport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	pg := h.newPage(r, p, "admin.import", "admin")
	pg.Data = importData{Kind: "users"}
	h.render(w, r, http.StatusOK, "import", pg)
}

// importFile runs in two steps: an upload is parsed and reported (dry run);
// if clean, the page offers to confirm, which applies the stored file.
func (h *handler) importFile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	up, err := httpx.ParseUpload(w, r, h.svc.Blobs(), h.cfg.MaxUploadBytes, 1)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	// The file is kept: the confirm step names it by its digest.
	if err := up.Keep(); err != nil {
		h.fail(w, r, p, err)
		return
	}
	d := importData{Kind: up.Value("kind"), Sum: up.Value("confirm")}
	apply := d.Sum != ""
	if !apply {
		files := up.Files["file"]
		if len(files) == 0 {
			pg := h.newPage(r, p, "admin.import", "admin")
			pg.Errors = map[string]string{"file": h.t(r, p, "err.file_required")}
			pg.Data = d
			h.render(w, r, http.StatusUnprocessableEntity, "import", pg)
			return
		}
		d.Sum = files[0].SHA256
	}
	f, err := h.svc.Blobs().Open(d.Sum)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, h.cfg.MaxUploadBytes+1))
	f.Close()
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	if apply {
		h.audit(p, "import.started", map[string]any{"kind": d.Kind, "file_sha256": d.Sum})
		// Hashing the new accounts' passwords takes a while for a whole
		// school: run it in the background and show its progress.
		job := h.jobs.start(p.User.ID, func(ctx context.Context, progress importer.Progress) (importer.Result, error) {
			res, err := importer.Run(ctx, h.svc.Store(), h.auth.Hasher(), p.User.SchoolID, importer.Kind(d.Kind), data, h.cfg.MaxUploadBytes, true, progress)
			if err == nil && res.Applied && h.onImport != nil {
				h.onImport()
			}
			// Counts only: the result also holds the new accounts' initial
			// passwords, which must never reach the log.
			details := map[string]any{"kind": d.Kind, "file_sha256": d.Sum, "applied": res.Applied, "rows": res.Rows,
				"users_created": res.Counts.UsersCreated, "users_updated": res.Counts.UsersUpdated,
				"classes_created": res.Counts.ClassesCreated, "groups_created": res.Counts.GroupsCreated,
				"slots_replaced": res.Counts.SlotsReplaced}
			if err != nil {
				details["error"] = err.Error()
			}
			h.audit(p, "import.finished", details)
			return res, err
		})
		http.Redirect(w, r, "/admin/import/jobs/"+job, http.StatusSeeOther)
		return
	}
	res, err := importer.Run(r.Context(), h.svc.Store(), h.auth.Hasher(), p.User.SchoolID, importer.Kind(d.Kind), data, h.cfg.MaxUploadBytes, false, nil)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	d.Result = &res
	status := http.StatusOK
	if !res.Report.OK() {
		status = http.StatusUnprocessableEntity
	}
	pg := h.newPage(r, p, "admin.import", "admin")
	pg.Data = d
	h.render(w, r, status, "import", pg)
}

// showImportJob shows a running import's progress, refreshing itself every
// two seconds (no JavaScript needed), then its result.
func (h *handler) showImportJob(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	st, ok := h.jobs.status(r.PathValue("id"), p.User.ID)
	if !ok {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	if st.Err != nil {
		h.fail(w, r, p, st.Err)
		return
	}
	pg := h.newPage(r, p, "admin.import", "admin")
	if !st.Finished {
		pg.Refresh = 2
	}
	pg.Data = st
	h.render(w, r, http.StatusOK, "import_job", pg)
}

func (h *handler) t(r *http.Request, p *auth.Principal, key string, args ...any) string {
	return tr(h.lang(r, p), key, args...)
}

type policyData struct {
	Policy  domain.MessagingPolicy
	Roles   []domain.Role
	Reaches []domain.Reach
	CanEdit bool
}

func (h *handler) policyPage(w http.ResponseWriter, r *http.Request, p *auth.Principal, canEdit bool) {
	pol, err := h.svc.Store().MessagingPolicy(r.Context(), p.User.SchoolID)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	pg := h.newPage(r, p, "policy.title", "admin")
	if !canEdit {
		pg.Nav = "messages"
	}
	pg.Data = policyData{Policy: pol, Roles: domain.Roles, Reaches: []domain.Reach{domain.ReachNone, domain.ReachRelated, domain.ReachSchool}, CanEdit: canEdit}
	h.render(w, r, http.StatusOK, "policy", pg)
}

func (h *handler) showPolicy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.policyPage(w, r, p, true)
}

// showRules lets everyone read the school's messaging rules.
func (h *handler) showRules(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.policyPage(w, r, p, false)
}

func (h *handler) setPolicy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	pol := domain.MessagingPolicy{}
	for _, from := range domain.Roles {
		pol[from] = map[domain.Role]domain.Reach{}
		for _, to := range domain.Roles {
			reach := domain.Reach(r.PostFormValue(string(from) + "-" + string(to)))
			if !reach.Valid() {
				h.errorPage(w, r, p, http.StatusUnprocessableEntity, "err.policy")
				return
			}
			pol[from][to] = reach
		}
	}
	if err := h.svc.Store().SetMessagingPolicy(r.Context(), p.User.SchoolID, pol); err != nil {
		h.fail(w, r, p, err)
		return
	}
	rules := make(map[string]string, len(pol)*len(pol))
	for from, tos := range pol {
		for to, reach := range tos {
			rules[string(from)+"-"+string(to)] = string(reach)
		}
	}
	h.audit(p, "messaging.policy", map[string]any{"rules": rules})
	http.Redirect(w, r, "/admin/messaging?ok=policy", http.StatusSeeOther)
}
