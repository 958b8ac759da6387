package web

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"preau/internal/auth"
	"preau/internal/evidence/export"
	"preau/internal/evidence/journal"
	"preau/internal/evidence/record"
	"preau/internal/evidence/stix"
)

// tlpLevels are the TLP 2.0 levels an export can carry, least restrictive
// first.
var tlpLevels = []string{stix.TLPClear, stix.TLPGreen, stix.TLPAmber, stix.TLPAmberStrict, stix.TLPRed}

type episodesData struct {
	Episodes []episodeView // newest first
	TLPs     []string
	Failed   string   // the episode whose export form has errors
	Signers  []signer // keys that sign the packages, newest first
}

// episodeView is an episode with its traffic chart.
type episodeView struct {
	record.EpisodeSummary
	Chart template.HTML
}

// signer is the signing key of one month's events segment: a package's
// manifest is signed with the key of the newest segment holding its
// episode, and recipients compare the fingerprint with the one the school
// gives them through another channel.
type signer struct {
	Month       string
	Fingerprint string // hex SHA-256 of the Ed25519 public key, as metadata.json gives it
}

// signers lists the events segments' key fingerprints.
func (h *handler) signers() []signer {
	segs, err := h.cfg.Evidence.Segments(record.Events)
	if err != nil {
		h.log.Error("evidence: list segments", "err", err)
		return nil
	}
	out := make([]signer, 0, len(segs))
	for _, seg := range slices.Backward(segs) {
		// Read-only: the recorder holds the newest segment open.
		j, err := journal.OpenReadOnly(seg.Dir, journal.Options{Logger: h.log})
		if err != nil {
			h.log.Error("evidence: signer key", "segment", seg.Dir, "err", err)
			continue
		}
		fp := sha256.Sum256(j.PublicKey())
		if err := j.Close(); err != nil {
			h.log.Error("evidence: close segment", "segment", seg.Dir, "err", err)
		}
		out = append(out, signer{Month: seg.Month, Fingerprint: hex.EncodeToString(fp[:])})
	}
	return out
}

// showEpisodes lists the recorded attack episodes, newest first, each with
// its export form.
func (h *handler) showEpisodes(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	h.renderEpisodes(w, r, p, http.StatusOK, nil, nil, "")
}

func (h *handler) renderEpisodes(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, errs, form map[string]string, failed string) {
	if h.cfg.Evidence == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.evidence_off")
		return
	}
	eps, err := h.cfg.Evidence.Episodes()
	if err != nil {
		h.fail(w, r, p, fmt.Errorf("web: episodes: %w", err))
		return
	}
	slices.Reverse(eps)
	pg := h.newPage(r, p, "episodes.title", "admin")
	pg.Errors, pg.Form = errs, form
	if pg.Form == nil {
		pg.Form = map[string]string{"tlp": stix.TLPAmber, "format": "tar.gz"}
	}
	lang := h.lang(r, p)
	views := make([]episodeView, len(eps))
	for i, ep := range eps {
		views[i] = episodeView{EpisodeSummary: ep, Chart: episodeChart(lang, ep.Timeline)}
	}
	pg.Data = episodesData{Episodes: views, TLPs: tlpLevels, Failed: failed, Signers: h.signers()}
	h.render(w, r, status, "episodes", pg)
}

// exportEpisode builds the evidence package of one episode in a temporary
// directory and sends it as a .tar.gz or .zip download. Building it takes
// a few seconds for a large episode; nothing is kept on the server.
func (h *handler) exportEpisode(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Evidence == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.evidence_off")
		return
	}
	// Export itself tells an unknown episode (404 below): listing the
	// episodes first would read the whole events stream once more.
	id := r.PathValue("id")
	form := map[string]string{"case": strings.TrimSpace(r.PostFormValue("case")), "tlp": r.PostFormValue("tlp"),
		"format": r.PostFormValue("format"), "raw": r.PostFormValue("raw"), "pseudonymise": r.PostFormValue("pseudonymise")}
	lang := h.lang(r, p)
	errs := map[string]string{}
	if c := form["case"]; c == "" || len(c) > 200 || strings.ContainsFunc(c, unicode.IsControl) {
		errs["case"] = tr(lang, "err.case_ref")
	}
	if !slices.Contains(tlpLevels, form["tlp"]) {
		errs["tlp"] = tr(lang, "err.tlp")
	}
	if form["format"] != "tar.gz" && form["format"] != "zip" {
		errs["format"] = tr(lang, "err.export_format")
	}
	if len(errs) > 0 {
		h.renderEpisodes(w, r, p, http.StatusUnprocessableEntity, errs, form, id)
		return
	}

	tmp, err := os.MkdirTemp("", "preau-export-")
	if err != nil {
		h.fail(w, r, p, fmt.Errorf("web: export: %w", err))
		return
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			h.log.Error("export: remove temporary package", "dir", tmp, "err", err)
		}
	}()
	name := "preau-evidence-" + fileSafe(id)
	opts := export.Options{Dir: h.cfg.Export.Dir, EpisodeID: id, CaseRef: form["case"], TLP: form["tlp"],
		Out: filepath.Join(tmp, name), Raw: form["raw"] == "1", Producer: h.cfg.Export.Producer,
		Version: h.cfg.Export.Version, Logger: h.log}
	if form["pseudonymise"] == "1" {
		opts.Pseudonymise = h.cfg.Export.PseudonymKey
	}
	sum, err := export.Export(r.Context(), opts)
	switch {
	case errors.Is(err, export.ErrEpisodeNotFound):
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return
	case errors.Is(err, export.ErrNotYetSigned):
		// The export reads only what a signed checkpoint covers, and the
		// recorder signs one a minute: an episode that has just started
		// (listed from the journal's newest records) is not exportable yet.
		h.renderEpisodes(w, r, p, http.StatusConflict, map[string]string{"export": tr(lang, "err.episode_not_checkpointed")}, form, id)
		return
	case err != nil:
		h.fail(w, r, p, fmt.Errorf("web: export %s: %w", id, err))
		return
	}
	h.audit(p, "evidence.export", map[string]any{"episode": id, "case": form["case"], "tlp": form["tlp"],
		"raw": opts.Raw, "pseudonymised": opts.Pseudonymise != nil, "format": form["format"], "entries": sum.Entries,
		"left_out": sum.LeftOut, "signer_sha256": sum.SignerFingerprint})
	w.Header().Set("X-Preau-Signer-Fingerprint", sum.SignerFingerprint)

	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+form["format"]+`"`)
	if form["format"] == "zip" {
		w.Header().Set("Content-Type", "application/zip")
		err = writeZip(w, sum.Out, name)
	} else {
		w.Header().Set("Content-Type", "application/gzip")
		err = writeTarGz(w, sum.Out, name)
	}
	if err != nil {
		// Headers are gone: the client sees a truncated download, which
		// its checksum verification reports.
		h.log.Error("export: send package", "episode", id, "err", err)
	}
}

// fileSafe keeps the characters of an episode id that are safe in a file
// name (ids are "ep-<time>-<n>"; anything else is replaced).
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return r
		}
		return '_'
	}, s)
}

// packageFiles calls fn for each regular file under dir, in lexical order,
// with its slash-separated path relative to dir.
func packageFiles(dir string, fn func(rel string, info fs.FileInfo, path string) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), info, path)
	})
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// writeTarGz streams the package directory as a gzip-compressed tar whose
// entries are under root/.
func writeTarGz(w io.Writer, dir, root string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err := packageFiles(dir, func(rel string, info fs.FileInfo, path string) error {
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = root + "/" + rel
		hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = "", "", 0, 0
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		return copyFile(tw, path)
	})
	if err != nil {
		return fmt.Errorf("web: tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("web: tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("web: gzip: %w", err)
	}
	return nil
}

// writeZip streams the package directory as a zip whose entries are under
// root/.
func writeZip(w io.Writer, dir, root string) error {
	zw := zip.NewWriter(w)
	err := packageFiles(dir, func(rel string, info fs.FileInfo, path string) error {
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Method = root+"/"+rel, zip.Deflate
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		return copyFile(fw, path)
	})
	if err != nil {
		return fmt.Errorf("web: zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("web: zip: %w", err)
	}
	return nil
}
