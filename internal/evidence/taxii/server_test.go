package taxii

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"preau/internal/evidence/stix"
)

const (
	rootName     = "preau"
	episodesColl = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	secretColl   = "52892447-4d7e-4f70-b94d-d7f22742ff63"
)

var base = time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)

type fixture struct {
	srv    *httptest.Server
	source *MemorySource
	keys   map[string]string // partner -> API key
}

// newFixture serves three episodes (amber, green, red) in the episodes
// collection and one clear episode in the secret collection.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	src := &MemorySource{}
	for i, tlp := range []string{"amber", "green", "red"} {
		mustAddBundle(t, src, episodesColl, tlp, fmt.Sprintf("ep-%d", i), 4, base.Add(time.Duration(i)*time.Hour))
	}
	mustAddBundle(t, src, secretColl, "clear", "ep-secret", 1, base)
	keys := map[string]string{"cert-fr": "key-cert", "greenish": "key-green", "investigator": "key-inv"}
	hash := func(k string) [32]byte { return sha256.Sum256([]byte(k)) }
	cfg := Config{
		Title: "Préau", Source: src, CursorKey: []byte("test cursor key"),
		Roots: []APIRoot{{Name: rootName, Title: "Préau evidence", Collections: []Collection{
			{ID: episodesColl, Title: "Episodes"}, {ID: secretColl, Title: "Judicial"},
		}}},
		Partners: []Partner{
			{Name: "cert-fr", KeyHash: hash(keys["cert-fr"]), MaxTLP: "amber", Collections: []string{episodesColl}},
			{Name: "greenish", KeyHash: hash(keys["greenish"]), MaxTLP: "TLP:GREEN", Collections: []string{episodesColl}},
			{Name: "investigator", KeyHash: hash(keys["investigator"]), MaxTLP: "red", Collections: []string{episodesColl, secretColl}},
		},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(cfg))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, source: src, keys: keys}
}

func mustAddBundle(t *testing.T, src *MemorySource, coll, tlp, episode string, nSources int, added time.Time) {
	t.Helper()
	in := stix.EpisodeInput{
		Producer: "Lycée Jean Moulin — Préau", TLP: tlp, EpisodeID: episode,
		Start: added.Add(-time.Hour), End: added.Add(-30 * time.Minute), Kind: "http_flood", Requests: 100,
	}
	for i := range nSources {
		in.Sources = append(in.Sources, stix.Source{
			Addr: netip.AddrFrom4([4]byte{203, 0, 113, byte(len(episode)*10 + i)}), Requests: 10, ASN: 64500, Confidence: 0.5,
		})
	}
	b, err := stix.BuildEpisodeBundle(in)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AddBundle(coll, data, added); err != nil {
		t.Fatal(err)
	}
}

// client is a TAXII 2.1 client that follows the specification: it asks for
// the TAXII media type, authenticates, and checks what comes back.
type client struct {
	t            *testing.T
	base         string
	user, key    string
	bearer       bool
	accept       string
	lastAddedHdr string
}

func (f *fixture) client(t *testing.T, partner string) *client {
	return &client{t: t, base: f.srv.URL, user: partner, key: f.keys[partner], accept: MediaType}
}

func (c *client) do(method, path string, params url.Values) (*http.Response, []byte) {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, u, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	switch {
	case c.bearer:
		req.Header.Set("Authorization", "Bearer "+c.key)
	case c.key != "":
		req.SetBasicAuth(c.user, c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != MediaType {
		c.t.Errorf("%s %s: Content-Type %q, want %q", method, path, ct, MediaType)
	}
	return resp, body
}

// get fetches path and decodes a 200 response into v.
func (c *client) get(path string, params url.Values, v any) http.Header {
	c.t.Helper()
	resp, body := c.do(http.MethodGet, path, params)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s?%s: %d %s", path, params.Encode(), resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: decode: %v", path, err)
	}
	return resp.Header
}

// expectError checks that a request fails with status as a TAXII error
// message.
func (c *client) expectError(method, path string, params url.Values, status int) []byte {
	c.t.Helper()
	resp, body := c.do(method, path, params)
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s?%s: status %d, want %d (%s)", method, path, params.Encode(), resp.StatusCode, status, body)
	}
	var e struct {
		Title      string `json:"title"`
		HTTPStatus string `json:"http_status"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Title == "" || e.HTTPStatus != fmt.Sprint(status) {
		c.t.Errorf("%s %s: not a TAXII error message: %s", method, path, body)
	}
	return body
}

type stixHead struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Modified string   `json:"modified"`
	Markings []string `json:"object_marking_refs"`
}

type envelopeResp struct {
	More    bool       `json:"more"`
	Next    string     `json:"next"`
	Objects []stixHead `json:"objects"`
}

// walk fetches every object of a collection page by page, following next
// until more is false, and remembers X-TAXII-Date-Added-Last.
func (c *client) walk(objectsURL string, params url.Values) []stixHead {
	c.t.Helper()
	var all []stixHead
	for pages := 0; ; pages++ {
		if pages > 1000 {
			c.t.Fatal("pagination does not end")
		}
		var env envelopeResp
		h := c.get(objectsURL, params, &env)
		all = append(all, env.Objects...)
		if last := h.Get("X-TAXII-Date-Added-Last"); last != "" {
			c.lastAddedHdr = last
			if h.Get("X-TAXII-Date-Added-First") == "" {
				c.t.Error("X-TAXII-Date-Added-Last without -First")
			}
		}
		if !env.More {
			if env.Next != "" {
				c.t.Error("next set while more is false")
			}
			return all
		}
		if env.Next == "" {
			c.t.Fatal("more is true but next is empty")
		}
		params = cloneWith(params, "next", env.Next)
	}
}

func cloneWith(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = slices.Clone(vv)
	}
	out.Set(k, val)
	return out
}

// visibleTo lists "id@version" of what a partner with ceiling maxTLP
// should see as the latest versions in a collection.
func (f *fixture) visibleTo(t *testing.T, coll, maxTLP string) []string {
	t.Helper()
	objs, err := f.source.Objects(t.Context(), coll, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ceiling, _ := stix.TLPRank(maxTLP)
	var seen []StoredObject
	for _, o := range objs {
		if r, _ := stix.TLPRank(o.TLP); o.Type == "marking-definition" || r <= ceiling {
			seen = append(seen, o)
		}
	}
	// The latest version is the latest the partner may see.
	var out []string
	for _, o := range selectVersions(seen, versionMatch{last: true}) {
		out = append(out, o.ID+"@"+versionString(o.Modified))
	}
	slices.Sort(out)
	return out
}

func keysOf(objs []stixHead) []string {
	var out []string
	for _, o := range objs {
		v := o.Modified
		if v == "" {
			v = "?"
		}
		out = append(out, o.ID+"@"+v)
	}
	slices.Sort(out)
	return out
}

func TestSpecClientWalksDiscoveryToObjects(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "cert-fr")

	var disc struct {
		Title    string   `json:"title"`
		Default  string   `json:"default"`
		APIRoots []string `json:"api_roots"`
	}
	c.get("/taxii2/", nil, &disc)
	if len(disc.APIRoots) != 1 || disc.Default != disc.APIRoots[0] {
		t.Fatalf("discovery = %+v", disc)
	}
	var root struct {
		Versions []string `json:"versions"`
	}
	c.get(disc.APIRoots[0], nil, &root)
	if !slices.Contains(root.Versions, MediaType) {
		t.Errorf("api root versions = %v", root.Versions)
	}
	var colls struct {
		Collections []struct {
			ID         string   `json:"id"`
			CanRead    bool     `json:"can_read"`
			CanWrite   bool     `json:"can_write"`
			MediaTypes []string `json:"media_types"`
		} `json:"collections"`
	}
	c.get(disc.APIRoots[0]+"collections/", nil, &colls)
	if len(colls.Collections) != 1 || colls.Collections[0].ID != episodesColl {
		t.Fatalf("collections = %+v, want only the episodes collection", colls)
	}
	if col := colls.Collections[0]; !col.CanRead || col.CanWrite || !slices.Contains(col.MediaTypes, STIXMediaType) {
		t.Errorf("collection = %+v", col)
	}

	objectsURL := disc.APIRoots[0] + "collections/" + episodesColl + "/objects/"
	got := c.walk(objectsURL, url.Values{"limit": {"7"}})
	// SCOs carry no modified; fill in the version from the manifest view.
	var man struct {
		Objects []struct {
			ID, Version string
		} `json:"objects"`
		More bool `json:"more"`
	}
	c.get(disc.APIRoots[0]+"collections/"+episodesColl+"/manifest/", url.Values{"limit": {"1000"}}, &man)
	versionOf := map[string]string{}
	for _, m := range man.Objects {
		versionOf[m.ID] = m.Version
	}
	seen := map[string]int{}
	for i := range got {
		seen[got[i].ID]++
		if got[i].Modified == "" {
			got[i].Modified = versionOf[got[i].ID]
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	if want := f.visibleTo(t, episodesColl, "amber"); !slices.Equal(keysOf(got), want) {
		t.Errorf("walked %d objects, want %d", len(got), len(want))
	}
	if c.lastAddedHdr == "" {
		t.Fatal("no X-TAXII-Date-Added-Last header")
	}

	// Polling from the last date added returns nothing new, then exactly
	// what arrives afterwards.
	poll := url.Values{"added_after": {c.lastAddedHdr}}
	if again := c.walk(objectsURL, poll); len(again) != 0 {
		t.Errorf("poll after last date added returned %d objects", len(again))
	}
	mustAddBundle(t, f.source, episodesColl, "amber", "ep-late", 1, base.Add(10*time.Hour))
	fresh := c.walk(objectsURL, poll)
	if len(fresh) == 0 {
		t.Fatal("new episode not returned by the poll")
	}
	for _, o := range fresh {
		if o.Type == "marking-definition" {
			continue
		}
		if o.Type == "identity" || o.Type == "attack-pattern" {
			t.Errorf("unchanged %s re-sent", o.ID)
		}
	}
}

func TestTLPFilteringPerPartner(t *testing.T) {
	f := newFixture(t)
	objectsURL := "/taxii2/" + rootName + "/collections/" + episodesColl + "/objects/"
	for partner, ceiling := range map[string]string{"greenish": "green", "cert-fr": "amber", "investigator": "red"} {
		c := f.client(t, partner)
		got := c.walk(objectsURL, url.Values{"match[type]": {"indicator,marking-definition"}, "limit": {"5"}})
		var markings []string
		nIndicators := 0
		for _, o := range got {
			switch o.Type {
			case "marking-definition":
				markings = append(markings, o.ID)
			case "indicator":
				nIndicators++
				level, _ := stix.TLPOfMarking(o.Markings[0])
				if r, _ := stix.TLPRank(level); r > must(stix.TLPRank(ceiling)) {
					t.Errorf("%s (ceiling %s) received %s indicator %s", partner, ceiling, level, o.ID)
				}
			default:
				t.Errorf("match[type] let through %s", o.Type)
			}
		}
		// Marking definitions are always visible: the three episode levels
		// and TLP:CLEAR, which marks the shared identity and attack pattern.
		if len(markings) != 4 {
			t.Errorf("%s saw %d marking definitions, want 4", partner, len(markings))
		}
		want := map[string]int{"greenish": 4, "cert-fr": 8, "investigator": 12}[partner]
		if nIndicators != want {
			t.Errorf("%s saw %d indicators, want %d", partner, nIndicators, want)
		}
	}
}

func must(n int, _ bool) int { return n }

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "cert-fr")

	c.bearer = true
	var disc map[string]any
	c.get("/taxii2/", nil, &disc)

	for name, mutate := range map[string]func(*client){
		"no credentials":        func(c *client) { c.key, c.bearer = "", false },
		"wrong key":             func(c *client) { c.key = "guess" },
		"wrong bearer":          func(c *client) { c.key, c.bearer = "guess", true },
		"another partner's key": func(c *client) { c.key = f.keys["investigator"] },
		"unknown partner":       func(c *client) { c.user = "nobody" },
	} {
		t.Run(name, func(t *testing.T) {
			c := f.client(t, "cert-fr")
			mutate(c)
			resp, _ := c.do(http.MethodGet, "/taxii2/", nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if len(resp.Header.Values("WWW-Authenticate")) == 0 {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "cert-fr")
	coll := "/taxii2/" + rootName + "/collections/" + episodesColl + "/"
	objects := coll + "objects/"

	t.Run("404", func(t *testing.T) {
		unknown := c.expectError(http.MethodGet, "/taxii2/"+rootName+"/collections/00000000-0000-4000-8000-000000000000/", nil, 404)
		hidden := c.expectError(http.MethodGet, "/taxii2/"+rootName+"/collections/"+secretColl+"/", nil, 404)
		if string(unknown) != string(hidden) {
			t.Errorf("a forbidden collection answers differently from a missing one:\n%s\n%s", unknown, hidden)
		}
		c.expectError(http.MethodGet, "/taxii2/"+rootName+"/collections/"+secretColl+"/objects/", nil, 404)
		c.expectError(http.MethodGet, "/taxii2/elsewhere/", nil, 404)
		c.expectError(http.MethodGet, objects+"indicator--00000000-0000-4000-8000-000000000000/", nil, 404)
		c.expectError(http.MethodGet, "/taxii2/"+rootName+"/status/1/", nil, 404)
	})
	t.Run("404 for objects above the partner's TLP", func(t *testing.T) {
		inv := f.client(t, "investigator")
		var env envelopeResp
		inv.get(objects, url.Values{"match[type]": {"incident"}}, &env)
		for _, o := range env.Objects {
			if lvl, _ := stix.TLPOfMarking(o.Markings[0]); lvl == "red" {
				c.expectError(http.MethodGet, objects+o.ID+"/", nil, 404)
				c.expectError(http.MethodGet, objects+o.ID+"/versions/", nil, 404)
				return
			}
		}
		t.Fatal("no red incident in fixture")
	})
	t.Run("405", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			c.expectError(m, objects, nil, 405)
		}
	})
	t.Run("406", func(t *testing.T) {
		for _, accept := range []string{STIXMediaType, "application/taxii+json;version=2.0", "text/html", "application/taxii+json;version=2.1;q=0"} {
			c := f.client(t, "cert-fr")
			c.accept = accept
			c.expectError(http.MethodGet, objects, nil, 406)
		}
		for _, accept := range []string{"application/taxii+json", "text/html, application/taxii+json;version=2.1;q=0.5", "*/*"} {
			c := f.client(t, "cert-fr")
			c.accept = accept
			var env envelopeResp
			c.get(objects, nil, &env)
		}
	})
	t.Run("400", func(t *testing.T) {
		for _, q := range []url.Values{
			{"limit": {"0"}}, {"limit": {"many"}}, {"added_after": {"yesterday"}},
			{"match[version]": {"latest"}}, {"match[id]": {"not-an-id"}}, {"match[type]": {"Indicator"}},
			{"match[spec_version]": {"3.0"}}, {"next": {"garbage"}},
		} {
			c.expectError(http.MethodGet, objects, q, 400)
		}
	})
	t.Run("tampered next", func(t *testing.T) {
		var env envelopeResp
		c.get(objects, url.Values{"limit": {"2"}}, &env)
		if !env.More {
			t.Fatal("expected more pages")
		}
		// Change one base64url character in the middle (the cursor's id).
		tampered := []byte(env.Next)
		i := len(tampered) / 2
		if tampered[i] == 'A' {
			tampered[i] = 'B'
		} else {
			tampered[i] = 'A'
		}
		c.expectError(http.MethodGet, objects, url.Values{"limit": {"2"}, "next": {string(tampered)}}, 400)
		// A genuine token is refused under another filter or for another partner.
		c.expectError(http.MethodGet, objects, url.Values{"limit": {"2"}, "match[type]": {"indicator"}, "next": {env.Next}}, 400)
		c.expectError(http.MethodGet, coll+"manifest/", url.Values{"limit": {"2"}, "next": {env.Next}}, 400)
		other := f.client(t, "investigator")
		other.expectError(http.MethodGet, objects, url.Values{"limit": {"2"}, "next": {env.Next}}, 400)
		// And accepted untouched, with a different page size.
		var next envelopeResp
		c.get(objects, url.Values{"limit": {"3"}, "next": {env.Next}}, &next)
	})
}

func TestVersionsAndMatch(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "cert-fr")
	objects := "/taxii2/" + rootName + "/collections/" + episodesColl + "/objects/"

	const id = "note--2f3c3a4e-1f4b-4c43-9d5e-8a5e2d6c0b11"
	note := func(modified, content string) []byte {
		return []byte(`{"type":"note","spec_version":"2.1","id":"` + id + `","created":"2026-03-09T10:00:00.000Z","modified":"` + modified +
			`","content":"` + content + `","object_refs":["` + id + `"]}`)
	}
	for i, mod := range []string{"2026-03-09T10:00:00.000Z", "2026-03-09T11:00:00.000Z", "2026-03-09T12:00:00.000Z"} {
		if err := f.source.Add(episodesColl, note(mod, fmt.Sprint("v", i)), "green", base.Add(time.Duration(20+i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.source.Add(episodesColl, note("2026-03-09T10:00:00.000Z", "v0"), "green", base.Add(30*time.Hour)); err != nil {
		t.Errorf("re-adding an identical version: %v", err)
	}
	if err := f.source.Add(episodesColl, note("2026-03-09T10:00:00.000Z", "changed"), "green", base.Add(30*time.Hour)); err == nil {
		t.Error("a conflicting version was accepted")
	}

	versionsOf := func(params url.Values) []string {
		var env envelopeResp
		c.get(objects, params, &env)
		var out []string
		for _, o := range env.Objects {
			out = append(out, o.Modified)
		}
		return out
	}
	for match, want := range map[string][]string{
		"":                         {"2026-03-09T12:00:00.000Z"},
		"last":                     {"2026-03-09T12:00:00.000Z"},
		"first":                    {"2026-03-09T10:00:00.000Z"},
		"first,last":               {"2026-03-09T10:00:00.000Z", "2026-03-09T12:00:00.000Z"},
		"all":                      {"2026-03-09T10:00:00.000Z", "2026-03-09T11:00:00.000Z", "2026-03-09T12:00:00.000Z"},
		"2026-03-09T11:00:00.000Z": {"2026-03-09T11:00:00.000Z"},
	} {
		q := url.Values{"match[id]": {id}}
		if match != "" {
			q.Set("match[version]", match)
		}
		if got := versionsOf(q); !slices.Equal(got, want) {
			t.Errorf("match[version]=%q: %v, want %v", match, got, want)
		}
	}
	if got := versionsOf(url.Values{"match[id]": {id}, "match[spec_version]": {"2.0"}}); len(got) != 0 {
		t.Errorf("match[spec_version]=2.0 returned %v", got)
	}

	var vers struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}
	h := c.get(objects+id+"/versions/", nil, &vers)
	if len(vers.Versions) != 3 || vers.More || h.Get("X-TAXII-Date-Added-First") == "" {
		t.Errorf("versions = %+v", vers)
	}
	var one envelopeResp
	c.get(objects+id+"/", url.Values{"match[version]": {"all"}, "limit": {"2"}}, &one)
	if len(one.Objects) != 2 || !one.More {
		t.Errorf("object endpoint page = %+v", one)
	}
	rest := c.walk(objects+id+"/", url.Values{"match[version]": {"all"}, "limit": {"2"}, "next": {one.Next}})
	if len(rest) != 1 {
		t.Errorf("second page of the object endpoint has %d versions, want 1", len(rest))
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{
		Prefix: "taxii",
		Roots:  []APIRoot{{Name: "a/b", Collections: []Collection{{ID: "x"}, {ID: "x"}}}},
		Partners: []Partner{
			{Name: "p:1", MaxTLP: "white", Collections: []string{"y"}},
			{Name: "p:1"},
		},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"no source", "prefix", "api root", "duplicate", "missing or shared key", "unknown TLP", "unknown collection"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q: %v", want, err)
		}
	}
}

// A bundle goes in whole or not at all: an object conflicting with a
// stored version refuses the bundle and stores none of its objects, so a
// partner never pages through half an episode.
func TestBundlesAreAddedWhole(t *testing.T) {
	var src MemorySource
	note := func(id, content string) string {
		return `{"type":"note","spec_version":"2.1","id":"note--` + id + `","created":"2026-03-09T10:00:00.000Z","modified":"2026-03-09T10:00:00.000Z","content":"` +
			content + `","object_refs":["note--` + id + `"]}`
	}
	const a, b = "2f3c3a4e-1f4b-4c43-9d5e-8a5e2d6c0b11", "3a4b5c6d-1f4b-4c43-9d5e-8a5e2d6c0b12"
	if err := src.Add(episodesColl, []byte(note(b, "first")), "green", base); err != nil {
		t.Fatal(err)
	}
	bundle := func(objs ...string) []byte {
		return []byte(`{"type":"bundle","id":"bundle--0b1c2d3e-1f4b-4c43-9d5e-8a5e2d6c0b13","objects":[` + strings.Join(objs, ",") + `]}`)
	}
	if err := src.AddBundle(episodesColl, bundle(note(a, "new"), note(b, "changed")), base.Add(time.Hour)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a bundle with a conflicting object: %v", err)
	}
	if err := src.AddBundle(episodesColl, bundle(note(a, "new"), note(a, "twice, differently")), base.Add(time.Hour)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a bundle giving one version twice: %v", err)
	}
	if n := len(src.objs[episodesColl]); n != 1 {
		t.Fatalf("%d objects stored after refused bundles, want the first alone", n)
	}
	if err := src.AddBundle(episodesColl, bundle(note(a, "new"), note(b, "first")), base.Add(time.Hour)); err != nil {
		t.Fatalf("a bundle repeating a stored object: %v", err)
	}
	if n := len(src.objs[episodesColl]); n != 2 {
		t.Fatalf("%d objects stored, want 2", n)
	}
}
