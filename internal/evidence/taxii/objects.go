package taxii

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dateAddedLayout is how date_added and the X-TAXII-Date-Added headers are
// written: microseconds, the precision MemorySource keeps, so that a
// client's added_after taken from X-TAXII-Date-Added-Last excludes exactly
// what it has already received.
const dateAddedLayout = "2006-01-02T15:04:05.000000Z"

// endpoint names the kind of listing a cursor belongs to.
type endpoint string

const (
	epObjects  endpoint = "objects"
	epObject   endpoint = "object"
	epManifest endpoint = "manifest"
	epVersions endpoint = "versions"
)

// query is a parsed, validated listing request.
type query struct {
	limit       int
	addedAfter  time.Time
	ids, types  []string
	versions    versionMatch
	specVersion []string
	after       *position // from next
}

type versionMatch struct {
	first, last, all bool
	at               []time.Time
}

// position is a place in the (DateAdded, ID, Modified) order.
type position struct {
	dateAdded time.Time
	id        string
	modified  time.Time
}

func (p position) less(o StoredObject) bool {
	return cmp.Or(p.dateAdded.Compare(o.DateAdded), strings.Compare(p.id, o.ID), p.modified.Compare(o.Modified)) < 0
}

var errBadParam = errors.New("bad parameter")

type paramError struct{ msg string }

func (e paramError) Error() string { return e.msg }

// parseQuery reads the parameters ep supports; any other match[...] is
// ignored, as TAXII asks of unknown filters.
func (s *Server) parseQuery(r *http.Request, ep endpoint, binding []byte) (query, error) {
	v := r.URL.Query()
	q := query{limit: s.defLimit, versions: versionMatch{last: true}}
	if ep == epVersions {
		q.versions = versionMatch{all: true}
	}
	if l, ok := single(v, "limit"); ok {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return q, paramError{"limit must be a positive integer"}
		}
		q.limit = min(n, s.maxLimit)
	}
	if a, ok := single(v, "added_after"); ok {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			return q, paramError{"added_after must be an RFC 3339 timestamp"}
		}
		q.addedAfter = t
	}
	if ep == epObjects || ep == epManifest {
		for _, id := range list(v, "match[id]") {
			if !stixID(id) {
				return q, paramError{"match[id] must list STIX identifiers"}
			}
			q.ids = append(q.ids, id)
		}
		for _, t := range list(v, "match[type]") {
			if !stixType(t) {
				return q, paramError{"match[type] must list STIX object types"}
			}
			q.types = append(q.types, t)
		}
	}
	if ep != epVersions {
		if vs := list(v, "match[version]"); len(vs) > 0 {
			q.versions = versionMatch{}
			for _, x := range vs {
				switch x {
				case "first":
					q.versions.first = true
				case "last":
					q.versions.last = true
				case "all":
					q.versions.all = true
				default:
					t, err := time.Parse(time.RFC3339Nano, x)
					if err != nil {
						return q, paramError{"match[version] must be first, last, all or timestamps"}
					}
					q.versions.at = append(q.versions.at, t)
				}
			}
		}
	}
	for _, sv := range list(v, "match[spec_version]") {
		if sv != "2.0" && sv != "2.1" {
			return q, paramError{"match[spec_version] must list 2.0 or 2.1"}
		}
		q.specVersion = append(q.specVersion, sv)
	}
	if n, ok := single(v, "next"); ok {
		pos, err := s.openCursor(n, binding)
		if err != nil {
			return q, paramError{"next is not a token this server issued for this request"}
		}
		q.after = &pos
	}
	return q, nil
}

func single(v url.Values, k string) (string, bool) {
	x, ok := v[k]
	if !ok || len(x) == 0 {
		return "", false
	}
	return x[len(x)-1], true
}

// list splits comma-separated values, also accepting the parameter
// repeated.
func list(v url.Values, k string) []string {
	var out []string
	for _, x := range v[k] {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func stixType(t string) bool {
	if len(t) < 3 || len(t) > 250 || strings.Contains(t, "--") {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func stixID(id string) bool {
	t, u, ok := strings.Cut(id, "--")
	return ok && stixType(t) && len(u) == 36
}

// binding identifies a listing request, minus paging, so that a cursor
// cannot be replayed against another partner, collection or filter.
func binding(p *Partner, ep endpoint, collection, object string, v url.Values) []byte {
	h := sha256.New()
	for _, s := range []string{p.Name, string(ep), collection, object} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		if k != "next" && k != "limit" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		for _, x := range v[k] {
			h.Write([]byte(x))
			h.Write([]byte{0})
		}
	}
	return h.Sum(nil)
}

// cursor layout: dateAdded (8) | modified (8) | id | mac (16), where the MAC
// covers the binding and everything before it.
const macLen = 16

func (s *Server) sealCursor(pos position, bind []byte) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(pos.dateAdded.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(pos.modified.UnixNano()))
	b = append(b, pos.id...)
	b = append(b, s.mac(b, bind)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) openCursor(tok string, bind []byte) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 16+macLen {
		return position{}, errBadParam
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, s.mac(body, bind)) {
		return position{}, errBadParam
	}
	return position{
		dateAdded: time.Unix(0, int64(binary.BigEndian.Uint64(body[0:8]))).UTC(),
		modified:  time.Unix(0, int64(binary.BigEndian.Uint64(body[8:16]))).UTC(),
		id:        string(body[16:]),
	}, nil
}

func (s *Server) mac(body, bind []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(bind)
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

// page is one page of a listing.
type page struct {
	items []StoredObject
	more  bool
	next  string
}

// list runs a listing: fetch, apply visibility and filters, select
// versions, order, and cut one page after the cursor.
func (s *Server) list(w http.ResponseWriter, r *http.Request, ep endpoint, objectID string) (page, bool) {
	c, ok := s.collectionFor(w, r)
	if !ok {
		return page{}, false
	}
	p := partnerFrom(r.Context())
	bind := binding(p, ep, c.ID, objectID, r.URL.Query())
	q, err := s.parseQuery(r, ep, bind)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err.Error())
		return page{}, false
	}
	f := Filter{AddedAfter: q.addedAfter, IDs: q.ids, Types: q.types}
	if objectID != "" {
		f = Filter{IDs: []string{objectID}}
	}
	objs, err := s.cfg.Source.Objects(r.Context(), c.ID, f)
	if err != nil {
		s.log.Error("taxii: read collection", "collection", c.ID, "err", err)
		s.fail(w, http.StatusInternalServerError, "Internal error.")
		return page{}, false
	}
	var kept []StoredObject
	exists := false
	for _, o := range objs {
		if !visible(p, o) || (objectID != "" && o.ID != objectID) {
			continue
		}
		exists = true
		if matchFilter(o, Filter{AddedAfter: q.addedAfter, IDs: q.ids, Types: q.types}) &&
			(len(q.specVersion) == 0 || slices.Contains(q.specVersion, o.SpecVersion)) {
			kept = append(kept, o)
		}
	}
	if objectID != "" && !exists {
		s.fail(w, http.StatusNotFound, "No such object.")
		return page{}, false
	}
	kept = selectVersions(kept, q.versions)
	slices.SortFunc(kept, compareStored)
	if q.after != nil {
		i, _ := slices.BinarySearchFunc(kept, *q.after, func(o StoredObject, pos position) int {
			if pos.less(o) {
				return 1
			}
			return -1
		})
		kept = kept[i:]
	}
	pg := page{items: kept}
	if len(kept) > q.limit {
		pg.items, pg.more = kept[:q.limit], true
		last := pg.items[len(pg.items)-1]
		pg.next = s.sealCursor(position{dateAdded: last.DateAdded, id: last.ID, modified: last.Modified}, bind)
	}
	if n := len(pg.items); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", pg.items[0].DateAdded.UTC().Format(dateAddedLayout))
		w.Header().Set("X-TAXII-Date-Added-Last", pg.items[n-1].DateAdded.UTC().Format(dateAddedLayout))
	}
	return pg, true
}

// selectVersions keeps, per object id, the versions vm asks for.
func selectVersions(objs []StoredObject, vm versionMatch) []StoredObject {
	if vm.all {
		return objs
	}
	first := map[string]time.Time{}
	last := map[string]time.Time{}
	for _, o := range objs {
		if t, ok := first[o.ID]; !ok || o.Modified.Before(t) {
			first[o.ID] = o.Modified
		}
		if t, ok := last[o.ID]; !ok || o.Modified.After(t) {
			last[o.ID] = o.Modified
		}
	}
	out := objs[:0:0]
	for _, o := range objs {
		keep := (vm.first && o.Modified.Equal(first[o.ID])) || (vm.last && o.Modified.Equal(last[o.ID])) ||
			slices.ContainsFunc(vm.at, o.Modified.Equal)
		if keep {
			out = append(out, o)
		}
	}
	return out
}

type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

func (s *Server) objects(w http.ResponseWriter, r *http.Request) {
	s.envelope(w, r, epObjects, "")
}

func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	s.envelope(w, r, epObject, r.PathValue("object"))
}

func (s *Server) envelope(w http.ResponseWriter, r *http.Request, ep endpoint, objectID string) {
	pg, ok := s.list(w, r, ep, objectID)
	if !ok {
		return
	}
	env := envelope{More: pg.more, Next: pg.next}
	for _, o := range pg.items {
		env.Objects = append(env.Objects, o.JSON)
	}
	s.write(w, env)
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	pg, ok := s.list(w, r, epManifest, "")
	if !ok {
		return
	}
	out := struct {
		More    bool             `json:"more"`
		Next    string           `json:"next,omitempty"`
		Objects []manifestRecord `json:"objects,omitempty"`
	}{More: pg.more, Next: pg.next}
	for _, o := range pg.items {
		out.Objects = append(out.Objects, manifestRecord{
			ID: o.ID, DateAdded: o.DateAdded.UTC().Format(dateAddedLayout),
			Version: versionString(o.Modified), MediaType: STIXMediaType,
		})
	}
	s.write(w, out)
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	pg, ok := s.list(w, r, epVersions, r.PathValue("object"))
	if !ok {
		return
	}
	out := struct {
		More     bool     `json:"more"`
		Next     string   `json:"next,omitempty"`
		Versions []string `json:"versions,omitempty"`
	}{More: pg.more, Next: pg.next}
	for _, o := range pg.items {
		out.Versions = append(out.Versions, versionString(o.Modified))
	}
	s.write(w, out)
}

// versionString writes a version in STIX form, with millisecond precision
// unless the object itself is more precise, so that it round-trips through
// match[version].
func versionString(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(time.Millisecond)) {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format(time.RFC3339Nano)
}
