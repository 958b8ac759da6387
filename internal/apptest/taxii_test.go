// taxii_test.go covers the TAXII 2.1 server mounted at /taxii2/ in a
// running Préau, behind the shield: partners from --taxii-partners (keys
// stored as SHA-256) list the collection of recorded episodes and fetch its
// STIX objects; a wrong key gets 401; a partner cleared for TLP:GREEN does
// not see the episodes shared as TLP:AMBER; episodes recorded before a
// restart are served after it.
package apptest_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"preau/internal/app"
	"preau/internal/apptest"
)

const taxiiMedia = "application/taxii+json;version=2.1"

// taxiiGet fetches a TAXII resource as partner name with key.
func taxiiGet(t *testing.T, s *apptest.Server, path, name, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(name, key)
	req.Header.Set("Accept", taxiiMedia)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/taxii+json") {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// objectTypes lists the types of an envelope's objects.
func objectTypes(env map[string]any) []string {
	var out []string
	objs, _ := env["objects"].([]any)
	for _, o := range objs {
		out = append(out, o.(map[string]any)["type"].(string))
	}
	return out
}

func TestTAXIIServesRecordedEpisodesToPartners(t *testing.T) {
	dir := t.TempDir()
	partners := filepath.Join(t.TempDir(), "partners.json")
	if err := os.WriteFile(partners, []byte(`{"partners": [
		{"name": "cert-academie", "key_sha256": "`+app.KeyHash("clef-amber-0123456789")+`", "max_tlp": "amber"},
		{"name": "voisins", "key_sha256": "`+app.KeyHash("clef-green-0123456789")+`", "max_tlp": "green"}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, a := apptest.StartApp(t, dir, "--taxii-partners", partners)
	clock := newFloodClock(a)
	clock.startEpisode(t)
	ep := clock.endEpisode(t)
	// Back to normal, so that the shield lets anonymous clients (partners
	// are anonymous to it) through without the challenge.
	for a.Shield.Detector().Level() != 0 {
		clock.windows(10, 0)
	}

	objects := "/taxii2/" + app.TAXIIRoot + "/collections/" + app.TAXIICollection + "/objects/"
	indicatorFor := func(env map[string]any, addr string) bool {
		objs, _ := env["objects"].([]any)
		return slices.ContainsFunc(objs, func(o any) bool {
			m := o.(map[string]any)
			return m["type"] == "indicator" && strings.Contains(m["pattern"].(string), "'"+addr+"'")
		})
	}
	top := ep.TopSources[0].Key
	// The episode's bundle is added by the event loop, just after the end.
	var env map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; {
		var code int
		code, env = taxiiGet(t, s, objects, "cert-academie", "clef-amber-0123456789")
		if code != http.StatusOK {
			t.Fatalf("objects: %d %v", code, env)
		}
		if indicatorFor(env, top) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !indicatorFor(env, top) {
		t.Fatalf("no indicator for %s in %v", top, objectTypes(env))
	}
	for _, typ := range []string{"identity", "incident", "attack-pattern", "ipv4-addr", "observed-data", "sighting", "marking-definition"} {
		if !slices.Contains(objectTypes(env), typ) {
			t.Errorf("no %s object in the collection (%v)", typ, objectTypes(env))
		}
	}

	code, body := taxiiGet(t, s, "/taxii2/", "cert-academie", "clef-amber-0123456789")
	if code != http.StatusOK || !strings.Contains(body["api_roots"].([]any)[0].(string), "/taxii2/"+app.TAXIIRoot+"/") {
		t.Errorf("discovery: %d %v", code, body)
	}
	code, body = taxiiGet(t, s, "/taxii2/"+app.TAXIIRoot+"/collections/", "cert-academie", "clef-amber-0123456789")
	cols, _ := body["collections"].([]any)
	if code != http.StatusOK || len(cols) != 1 || cols[0].(map[string]any)["id"] != app.TAXIICollection || cols[0].(map[string]any)["can_read"] != true {
		t.Errorf("collections: %d %v", code, body)
	}

	for _, c := range []struct{ name, key string }{{"cert-academie", "wrong-key"}, {"", ""}, {"voisins", "clef-amber-0123456789"}} {
		if code, _ := taxiiGet(t, s, objects, c.name, c.key); code != http.StatusUnauthorized {
			t.Errorf("partner %q with key %q: %d, want 401", c.name, c.key, code)
		}
	}

	code, green := taxiiGet(t, s, objects, "voisins", "clef-green-0123456789")
	if code != http.StatusOK {
		t.Fatalf("green partner: %d", code)
	}
	for _, typ := range objectTypes(green) {
		if typ != "marking-definition" && typ != "identity" && typ != "attack-pattern" {
			t.Errorf("green partner sees a %s, shared as TLP:AMBER", typ)
		}
	}

	// After a restart the recorded episode is read back from the journal.
	s.Stop(t)
	s, _ = apptest.StartApp(t, dir, "--taxii-partners", partners)
	if _, env := taxiiGet(t, s, objects, "cert-academie", "clef-amber-0123456789"); !indicatorFor(env, top) {
		t.Errorf("after a restart, no indicator for %s in %v", top, objectTypes(env))
	}
}
