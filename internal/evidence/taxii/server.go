package taxii

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"preau/internal/evidence/stix"
)

// Media types of TAXII 2.1. Every endpoint answers in MediaType, objects
// included (they travel inside an envelope); STIXMediaType is what
// collections declare they hold.
const (
	MediaType     = "application/taxii+json;version=2.1"
	STIXMediaType = "application/stix+json;version=2.1"
)

// Page size defaults when Config leaves them zero.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Config describes a server. Call Validate at start-up.
type Config struct {
	Title       string
	Description string
	Contact     string
	Prefix      string // where the server is mounted; default "/taxii2/"
	Roots       []APIRoot
	Partners    []Partner
	Source      Source

	// CursorKey signs next tokens. If empty, a random key is drawn, and
	// tokens die with the process: clients then restart from added_after,
	// which TAXII clients do anyway.
	CursorKey []byte

	DefaultPageSize int // default DefaultPageSize
	MaxPageSize     int // default MaxPageSize
	Logger          *slog.Logger
}

// APIRoot groups collections under /{prefix}/{Name}/.
type APIRoot struct {
	Name        string // URL path segment
	Title       string
	Description string
	Collections []Collection
}

// Collection is one readable TAXII collection.
type Collection struct {
	ID          string // unique across roots; a UUID is conventional
	Title       string
	Description string
}

// Partner is one authorised client.
type Partner struct {
	Name        string   // Basic user name; must not contain ':'
	KeyHash     [32]byte // SHA-256 of the API key; the key itself is never stored
	MaxTLP      string   // highest TLP 2.0 level this partner may see
	Collections []string // collection ids it may read
}

// Validate reports every configuration problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Source == nil {
		errs = append(errs, errors.New("no source"))
	}
	if c.Prefix != "" && (!strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/")) {
		errs = append(errs, fmt.Errorf("prefix %q must start and end with /", c.Prefix))
	}
	colls := map[string]bool{}
	roots := map[string]bool{}
	for _, r := range c.Roots {
		if r.Name == "" || strings.ContainsAny(r.Name, "/?#%") || roots[r.Name] {
			errs = append(errs, fmt.Errorf("api root %q: empty, duplicate or not a path segment", r.Name))
		}
		roots[r.Name] = true
		for _, col := range r.Collections {
			if col.ID == "" || strings.ContainsAny(col.ID, "/?#%") || colls[col.ID] {
				errs = append(errs, fmt.Errorf("collection %q: empty, duplicate or not a path segment", col.ID))
			}
			colls[col.ID] = true
		}
	}
	names := map[string]bool{}
	keys := map[[32]byte]bool{}
	for _, p := range c.Partners {
		if p.Name == "" || strings.Contains(p.Name, ":") || names[p.Name] {
			errs = append(errs, fmt.Errorf("partner %q: empty, duplicate or contains ':'", p.Name))
		}
		names[p.Name] = true
		if p.KeyHash == ([32]byte{}) || keys[p.KeyHash] {
			errs = append(errs, fmt.Errorf("partner %q: missing or shared key", p.Name))
		}
		keys[p.KeyHash] = true
		if _, ok := stix.TLPRank(p.MaxTLP); !ok {
			errs = append(errs, fmt.Errorf("partner %q: unknown TLP level %q", p.Name, p.MaxTLP))
		}
		for _, id := range p.Collections {
			if !colls[id] {
				errs = append(errs, fmt.Errorf("partner %q: unknown collection %q", p.Name, id))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("taxii: config: %w", err)
	}
	return nil
}

// Server is a read-only TAXII 2.1 server. It is safe for concurrent use.
type Server struct {
	cfg      Config
	prefix   string
	mux      *http.ServeMux
	key      []byte
	log      *slog.Logger
	defLimit int
	maxLimit int
}

type partnerKey struct{}

// NewServer returns a server for cfg. It does not check cfg (see
// Config.Validate) but fails closed on what is wrong: a partner with an
// unknown TLP ceiling sees only marking definitions.
func NewServer(cfg Config) *Server {
	s := &Server{cfg: cfg, prefix: cfg.Prefix, log: cfg.Logger, defLimit: cfg.DefaultPageSize, maxLimit: cfg.MaxPageSize}
	if s.prefix == "" {
		s.prefix = "/taxii2/"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxLimit <= 0 {
		s.maxLimit = MaxPageSize
	}
	if s.defLimit <= 0 {
		s.defLimit = min(DefaultPageSize, s.maxLimit)
	}
	s.key = cfg.CursorKey
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		rand.Read(s.key) // never fails (crypto/rand panics instead)
	}
	p := s.prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"{$}", s.discovery)
	mux.HandleFunc("GET "+p+"{root}/{$}", s.apiRoot)
	mux.HandleFunc("GET "+p+"{root}/collections/{$}", s.collections)
	mux.HandleFunc("GET "+p+"{root}/collections/{id}/{$}", s.collection)
	mux.HandleFunc("GET "+p+"{root}/collections/{id}/objects/{$}", s.objects)
	mux.HandleFunc("GET "+p+"{root}/collections/{id}/objects/{object}/{$}", s.object)
	mux.HandleFunc("GET "+p+"{root}/collections/{id}/objects/{object}/versions/{$}", s.versions)
	mux.HandleFunc("GET "+p+"{root}/collections/{id}/manifest/{$}", s.manifest)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, "No such TAXII resource.")
	})
	s.mux = mux
	return s
}

// ServeHTTP authenticates, refuses writes and unacceptable media types,
// then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	partner, ok := s.authenticate(r)
	if !ok {
		w.Header().Add("WWW-Authenticate", `Basic realm="taxii", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="taxii"`)
		s.fail(w, http.StatusUnauthorized, "Authenticate with your partner name and API key (HTTP Basic) or the key as a bearer token.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, http.StatusMethodNotAllowed, "This TAXII server is read-only.")
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		s.fail(w, http.StatusNotAcceptable, "This server only produces "+MediaType+".")
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), partnerKey{}, partner)))
}

// authenticate finds the partner behind the request's credentials. Every
// partner's hash is compared, whatever matches, so timing says nothing
// about which names or keys exist.
func (s *Server) authenticate(r *http.Request) (*Partner, bool) {
	var name, key string
	basic := false
	if u, p, ok := r.BasicAuth(); ok {
		name, key, basic = u, p, true
	} else if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		key = strings.TrimSpace(h[7:])
	}
	if key == "" {
		return nil, false
	}
	sum := sha256.Sum256([]byte(key))
	var found *Partner
	for i := range s.cfg.Partners {
		p := &s.cfg.Partners[i]
		match := subtle.ConstantTimeCompare(sum[:], p.KeyHash[:])
		if basic {
			match &= subtle.ConstantTimeCompare([]byte(name), []byte(p.Name))
		}
		if match == 1 {
			found = p
		}
	}
	return found, found != nil
}

func canSee(p *Partner, root *APIRoot) bool {
	return slices.ContainsFunc(root.Collections, func(c Collection) bool { return slices.Contains(p.Collections, c.ID) })
}

func partnerFrom(ctx context.Context) *Partner {
	p, _ := ctx.Value(partnerKey{}).(*Partner)
	return p
}

// acceptable reports whether the Accept header values admit MediaType. A
// missing header admits anything; application/taxii+json without a version
// means the latest, which is 2.1.
func acceptable(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, rng := range strings.Split(v, ",") {
			if strings.TrimSpace(rng) == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(rng)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if ver, ok := params["version"]; !ok || ver == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// visible applies a partner's TLP ceiling. Marking definitions are always
// visible, so that the markings on what the partner does see resolve.
// Unknown levels, on either side, hide the object.
func visible(p *Partner, o StoredObject) bool {
	if o.Type == "marking-definition" {
		return true
	}
	max, ok := stix.TLPRank(p.MaxTLP)
	if !ok {
		return false
	}
	level, ok := stix.TLPRank(o.TLP)
	return ok && level <= max
}

// root resolves {root}, or writes a 404. A root holding none of the
// partner's collections does not exist for that partner.
func (s *Server) root(w http.ResponseWriter, r *http.Request) (*APIRoot, bool) {
	name := r.PathValue("root")
	p := partnerFrom(r.Context())
	for i := range s.cfg.Roots {
		if root := &s.cfg.Roots[i]; root.Name == name && canSee(p, root) {
			return root, true
		}
	}
	s.fail(w, http.StatusNotFound, "No such API root.")
	return nil, false
}

// collectionFor resolves {root} and {id} for the calling partner. A
// collection the partner may not read is reported exactly like one that
// does not exist.
func (s *Server) collectionFor(w http.ResponseWriter, r *http.Request) (*Collection, bool) {
	root, ok := s.root(w, r)
	if !ok {
		return nil, false
	}
	id := r.PathValue("id")
	p := partnerFrom(r.Context())
	for i := range root.Collections {
		c := &root.Collections[i]
		if c.ID == id && slices.Contains(p.Collections, id) {
			return c, true
		}
	}
	s.fail(w, http.StatusNotFound, "No such collection.")
	return nil, false
}

type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	p := partnerFrom(r.Context())
	d := discoveryResource{Title: s.cfg.Title, Description: s.cfg.Description, Contact: s.cfg.Contact}
	if d.Title == "" {
		d.Title = "Préau TAXII server"
	}
	// Relative URLs, which TAXII 2.1 allows, keep working behind any proxy.
	for _, root := range s.cfg.Roots {
		if canSee(p, &root) {
			d.APIRoots = append(d.APIRoots, s.prefix+root.Name+"/")
		}
	}
	if len(d.APIRoots) == 1 {
		d.Default = d.APIRoots[0]
	}
	s.write(w, d)
}

type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int      `json:"max_content_length"`
}

func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request) {
	root, ok := s.root(w, r)
	if !ok {
		return
	}
	title := root.Title
	if title == "" {
		title = root.Name
	}
	// Nothing may be posted here, hence a zero maximum content length.
	s.write(w, apiRootResource{Title: title, Description: root.Description, Versions: []string{MediaType}})
}

type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

func toResource(c *Collection) collectionResource {
	title := c.Title
	if title == "" {
		title = c.ID
	}
	return collectionResource{ID: c.ID, Title: title, Description: c.Description, CanRead: true, MediaTypes: []string{STIXMediaType}}
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request) {
	root, ok := s.root(w, r)
	if !ok {
		return
	}
	p := partnerFrom(r.Context())
	var out struct {
		Collections []collectionResource `json:"collections,omitempty"`
	}
	for i := range root.Collections {
		if slices.Contains(p.Collections, root.Collections[i].ID) {
			out.Collections = append(out.Collections, toResource(&root.Collections[i]))
		}
	}
	s.write(w, out)
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.collectionFor(w, r); ok {
		s.write(w, toResource(c))
	}
}

// write sends v as a TAXII response.
func (s *Server) write(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("taxii: encode response", "err", err)
		s.fail(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", MediaType)
	// TLP-marked evidence must not linger in shared caches.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

type errorMessage struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// fail sends a TAXII error message. The description must be safe to show:
// internal detail goes to the log, never to the client.
func (s *Server) fail(w http.ResponseWriter, status int, description string) {
	b, _ := json.Marshal(errorMessage{Title: http.StatusText(status), Description: description, HTTPStatus: strconv.Itoa(status)})
	h := w.Header()
	h.Set("Content-Type", MediaType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}
