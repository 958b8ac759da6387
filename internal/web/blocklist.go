package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"preau/internal/auth"
	"preau/internal/evidence/stix"
	"preau/internal/shield"
)

type blocklistData struct {
	Entries  []shield.BlockEntry
	TTLDays  int
	Imported *blocklistImport // the import just made, if any
	Problem  string           // why the bundle was refused, as the parser said
}

type blocklistImport struct {
	File       string
	Indicators int // distinct indicators imported
	Prefixes   int
	Skipped    []stix.Skipped
}

// showBlocklist lists the partners' prefixes the shield refuses to
// anonymous visitors, with their provenance, and the import form.
func (h *handler) showBlocklist(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.renderBlocklist(w, r, p, http.StatusOK, blocklistData{}, nil)
}

func (h *handler) renderBlocklist(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, d blocklistData, errs map[string]string) {
	if h.cfg.Blocklist == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.shield_off")
		return
	}
	d.Entries = h.cfg.Blocklist.Entries(time.Now())
	d.TTLDays = int(h.cfg.BlocklistTTL.Hours()/24 + 0.5)
	pg := h.newPage(r, p, "blocklist.title", "admin")
	pg.Errors = errs
	pg.Data = d
	h.render(w, r, status, "blocklist", pg)
}

// importBlocklist reads a partner's STIX bundle (multipart field "bundle")
// and adds the prefixes of its indicators to the blocklist. A malformed
// bundle imports nothing; indicators the parser skips (expired, revoked,
// too broad, private addresses) are listed with the reason.
func (h *handler) importBlocklist(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Blocklist == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.shield_off")
		return
	}
	lang := h.lang(r, p)
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxUploadBytes)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.errorPage(w, r, p, http.StatusRequestEntityTooLarge, "err.bundle_too_large")
			return
		}
		h.renderBlocklist(w, r, p, http.StatusBadRequest, blocklistData{}, map[string]string{"bundle": tr(lang, "err.file_required")})
		return
	}
	defer r.MultipartForm.RemoveAll()
	partner := strings.TrimSpace(r.FormValue("partner"))
	if len(partner) > 200 || strings.ContainsFunc(partner, unicode.IsControl) {
		h.renderBlocklist(w, r, p, http.StatusUnprocessableEntity, blocklistData{}, map[string]string{"partner": tr(lang, "err.partner")})
		return
	}
	f, fh, err := r.FormFile("bundle")
	if err != nil {
		h.renderBlocklist(w, r, p, http.StatusUnprocessableEntity, blocklistData{}, map[string]string{"bundle": tr(lang, "err.file_required")})
		return
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		h.fail(w, r, p, fmt.Errorf("web: read bundle: %w", err))
		return
	}
	file := filepath.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	if len(file) > 200 {
		file = file[:200]
	}
	now := time.Now().UTC()
	inds, skipped, err := stix.ParseIndicators(data, now)
	if err != nil {
		problem := err.Error()
		if len(problem) > 4000 {
			problem = problem[:4000] + "…"
		}
		h.renderBlocklist(w, r, p, http.StatusUnprocessableEntity, blocklistData{Problem: problem},
			map[string]string{"bundle": tr(lang, "err.bundle_malformed")})
		return
	}
	if partner == "" && len(inds) > 0 {
		partner = inds[0].Producer
	}
	if partner == "" && len(inds) > 0 {
		h.renderBlocklist(w, r, p, http.StatusUnprocessableEntity, blocklistData{}, map[string]string{"partner": tr(lang, "err.partner_required")})
		return
	}
	entries := make([]shield.BlockEntry, 0, len(inds))
	distinct := map[string]bool{}
	for _, in := range inds {
		expires := in.ValidUntil
		if expires.IsZero() {
			expires = now.Add(h.cfg.BlocklistTTL)
		}
		distinct[in.ID] = true
		entries = append(entries, shield.BlockEntry{ID: shield.BlockEntryID(in.ID, in.Prefix), Prefix: in.Prefix, Expires: expires.UTC(),
			Partner: partner, Producer: in.Producer, File: file, Imported: now, ImportedBy: p.User.Login,
			Indicator: in.ID, Confidence: in.Confidence, TLP: in.TLP})
	}
	if len(entries) > 0 {
		if err := h.cfg.Blocklist.Add(entries, now); err != nil {
			h.fail(w, r, p, fmt.Errorf("web: blocklist import: %w", err))
			return
		}
	}
	res := &blocklistImport{File: file, Indicators: len(distinct), Prefixes: len(entries), Skipped: skipped}
	prefixes := make([]string, 0, min(len(entries), 100))
	for _, e := range entries[:min(len(entries), 100)] {
		prefixes = append(prefixes, e.Prefix.String())
	}
	h.audit(p, "blocklist.import", map[string]any{"partner": partner, "file": file, "file_sha256": sha256Hex(data),
		"indicators": res.Indicators, "prefixes": res.Prefixes, "skipped": len(skipped), "first_prefixes": prefixes})
	h.renderBlocklist(w, r, p, http.StatusOK, blocklistData{Imported: res}, nil)
}

// removeBlock takes one entry off the blocklist.
func (h *handler) removeBlock(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Blocklist == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.shield_off")
		return
	}
	e, err := h.cfg.Blocklist.Remove(r.PathValue("id"))
	if errors.Is(err, shield.ErrBlockNotFound) {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		h.fail(w, r, p, fmt.Errorf("web: blocklist remove: %w", err))
		return
	}
	h.audit(p, "blocklist.remove", map[string]any{"id": e.ID, "prefix": e.Prefix.String(), "partner": e.Partner,
		"indicator": e.Indicator, "file": e.File})
	http.Redirect(w, r, "/admin/shield/blocklist?ok=blocklist_removed", http.StatusSeeOther)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
