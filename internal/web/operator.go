package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"preau/internal/auth"
)

// operator requires a platform operator: an admin (see admin) who is listed
// in Config.Operators or, when the list is empty, an admin of the only
// school on the server. The shield, the recorded episodes and the
// blocklist concern every school a server hosts, and hold the addresses of
// all their visitors: one school's staff must not switch another's access
// or read its traffic. Anyone else gets 404, like any page they may not
// see.
func (h *handler) operator(next authed) http.Handler {
	return h.admin(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		ok, err := h.isOperator(r.Context(), p)
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		if !ok {
			h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
			return
		}
		next(w, r, p)
	})
}

// isOperator reports whether p, an admin, may use the operator pages.
func (h *handler) isOperator(ctx context.Context, p *auth.Principal) (bool, error) {
	if len(h.cfg.Operators) > 0 {
		return slices.Contains(h.cfg.Operators, p.User.Login), nil
	}
	schools, err := h.svc.Store().Schools(ctx)
	if err != nil {
		return false, fmt.Errorf("web: operator check: %w", err)
	}
	return len(schools) == 1 && schools[0].ID == p.User.SchoolID, nil
}

// audit records an admin action in the audit log, with who did it. The
// action has already happened when audit is called, so a failure to record
// it cannot undo it: it is logged as an error (and counted by the
// recorder's metrics) for the operator to look at.
func (h *handler) audit(p *auth.Principal, action string, details map[string]any) {
	d := make(map[string]any, len(details)+2)
	for k, v := range details {
		d[k] = v
	}
	d["user_id"], d["school_id"] = int64(p.User.ID), int64(p.User.SchoolID)
	if h.cfg.Audit == nil {
		h.log.Info("admin action", "actor", p.User.Login, "action", action, "details", d)
		return
	}
	if err := h.cfg.Audit.Audit(p.User.Login, action, d); err != nil {
		h.log.Error("admin action not recorded in the audit log", "actor", p.User.Login, "action", action, "err", err)
	}
}
