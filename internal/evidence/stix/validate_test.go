package stix

import (
	"encoding/json"
	"testing"
)

// genericBundle is a built bundle decoded into maps, ready to be broken.
type genericBundle map[string]any

func newGenericBundle(t *testing.T) genericBundle {
	t.Helper()
	var g genericBundle
	if err := json.Unmarshal(mustBuild(t, newEpisode(t, 5)), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g genericBundle) objects() []any { return g["objects"].([]any) }

// first returns the first object of type typ, or nil.
func (g genericBundle) first(typ string) map[string]any {
	for _, o := range g.objects() {
		if m := o.(map[string]any); m["type"] == typ {
			return m
		}
	}
	return nil
}

func (g genericBundle) bytes(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateCatchesEachBrokenRule(t *testing.T) {
	const someUUID = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	tests := []struct {
		name   string
		typ    string // object to break; "" breaks the bundle itself
		rule   Rule
		mutate func(g genericBundle, o map[string]any)
	}{
		{"bundle type", "", RuleBundle, func(g genericBundle, _ map[string]any) { g["type"] = "collection" }},
		{"bundle id", "", RuleBundle, func(g genericBundle, _ map[string]any) { g["id"] = "bundle--nope" }},
		{"object type malformed", "incident", RuleType, func(_ genericBundle, o map[string]any) { o["type"] = "Incident" }},
		{"id prefix differs from type", "incident", RuleID, func(_ genericBundle, o map[string]any) { o["id"] = "report--" + someUUID }},
		{"id not a uuid", "identity", RuleID, func(_ genericBundle, o map[string]any) { o["id"] = "identity--1234" }},
		{"spec_version missing on SDO", "indicator", RuleSpecVersion, func(_ genericBundle, o map[string]any) { delete(o, "spec_version") }},
		{"spec_version wrong on SCO", "ipv4-addr", RuleSpecVersion, func(_ genericBundle, o map[string]any) { o["spec_version"] = "2.0" }},
		{"created missing", "attack-pattern", RuleCreated, func(_ genericBundle, o map[string]any) { delete(o, "created") }},
		{"created not millisecond precise", "incident", RuleCreated, func(_ genericBundle, o map[string]any) { o["created"] = "2026-03-09T08:15:00Z" }},
		{"modified missing", "relationship", RuleModified, func(_ genericBundle, o map[string]any) { delete(o, "modified") }},
		{"modified before created", "incident", RuleModified, func(_ genericBundle, o map[string]any) { o["modified"] = "2020-01-01T00:00:00.000Z" }},
		{"timestamp with offset", "sighting", RuleTimestamp, func(_ genericBundle, o map[string]any) { o["first_seen"] = "2026-03-09T08:15:00.000+01:00" }},
		{"timestamp not a string", "observed-data", RuleTimestamp, func(_ genericBundle, o map[string]any) { o["last_observed"] = 12 }},
		{"identity without name", "identity", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "name") }},
		{"incident without name", "incident", RuleRequired, func(_ genericBundle, o map[string]any) { o["name"] = "" }},
		{"attack-pattern without name", "attack-pattern", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "name") }},
		{"indicator without pattern", "indicator", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "pattern") }},
		{"indicator without pattern_type", "indicator", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "pattern_type") }},
		{"indicator without valid_from", "indicator", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "valid_from") }},
		{"sighting without sighting_of_ref", "sighting", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "sighting_of_ref") }},
		{"relationship without type", "relationship", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "relationship_type") }},
		{"relationship without target", "relationship", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "target_ref") }},
		{"observed-data without object_refs", "observed-data", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "object_refs") }},
		{"observed-data without number_observed", "observed-data", RuleRequired, func(_ genericBundle, o map[string]any) { delete(o, "number_observed") }},
		{"external reference without source", "attack-pattern", RuleRequired, func(_ genericBundle, o map[string]any) {
			o["external_references"].([]any)[0].(map[string]any)["source_name"] = ""
		}},
		{"valid_until equals valid_from", "indicator", RuleTimeOrder, func(_ genericBundle, o map[string]any) { o["valid_until"] = o["valid_from"] }},
		{"last_observed before first", "observed-data", RuleTimeOrder, func(_ genericBundle, o map[string]any) { o["last_observed"] = "2000-01-01T00:00:00Z" }},
		{"number_observed zero", "observed-data", RuleRange, func(_ genericBundle, o map[string]any) { o["number_observed"] = 0 }},
		{"number_observed too large", "observed-data", RuleRange, func(_ genericBundle, o map[string]any) { o["number_observed"] = 1_000_000_000 }},
		{"sighting count negative", "sighting", RuleRange, func(_ genericBundle, o map[string]any) { o["count"] = -1 }},
		{"confidence above 100", "indicator", RuleConfidence, func(_ genericBundle, o map[string]any) { o["confidence"] = 101 }},
		{"confidence fractional", "indicator", RuleConfidence, func(_ genericBundle, o map[string]any) { o["confidence"] = 0.8 }},
		{"address value wrong family", "ipv4-addr", RuleValue, func(_ genericBundle, o map[string]any) { o["value"] = "2001:db8::1" }},
		{"dangling ref", "sighting", RuleRef, func(_ genericBundle, o map[string]any) { o["sighting_of_ref"] = "indicator--" + someUUID }},
		{"malformed ref", "relationship", RuleRef, func(_ genericBundle, o map[string]any) { o["source_ref"] = "nonsense" }},
		{"empty refs list", "observed-data", RuleRef, func(_ genericBundle, o map[string]any) { o["object_refs"] = []any{} }},
		{"unknown marking", "incident", RuleRef, func(_ genericBundle, o map[string]any) {
			o["object_marking_refs"] = []any{"marking-definition--" + someUUID}
		}},
		{"created_by_ref to non-identity", "incident", RuleRefType, func(g genericBundle, o map[string]any) {
			o["created_by_ref"] = g.first("attack-pattern")["id"]
		}},
		{"where_sighted_refs to indicator", "sighting", RuleRefType, func(_ genericBundle, o map[string]any) {
			o["where_sighted_refs"] = []any{o["sighting_of_ref"]}
		}},
		{"duplicate id and modified", "indicator", RuleDuplicate, func(g genericBundle, o map[string]any) {
			dup := map[string]any{}
			for k, v := range o {
				dup[k] = v
			}
			g["objects"] = append(g.objects(), dup)
		}},
		{"sco id not deterministic", "ipv4-addr", RuleSCOID, func(_ genericBundle, o map[string]any) { o["id"] = "ipv4-addr--" + someUUID }},
		{"sco value changed under its id", "autonomous-system", RuleSCOID, func(_ genericBundle, o map[string]any) { o["number"] = 64511 }},
		{"TLP marking with wrong id", "marking-definition", RuleMarking, func(_ genericBundle, o map[string]any) {
			o["extensions"].(map[string]any)[TLP20ExtensionID].(map[string]any)["tlp_2_0"] = "red"
		}},
		{"TLP marking renamed", "marking-definition", RuleMarking, func(_ genericBundle, o map[string]any) { o["name"] = "TLP:AMBRE" }},
		{"TLP marking without extension", "marking-definition", RuleMarking, func(_ genericBundle, o map[string]any) { delete(o, "extensions") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGenericBundle(t)
			var o map[string]any
			id, _ := g["id"].(string)
			if tc.typ != "" {
				if o = g.first(tc.typ); o == nil {
					t.Fatalf("no %s in bundle", tc.typ)
				}
				id = o["id"].(string)
			}
			tc.mutate(g, o)
			if o != nil {
				if s, ok := o["id"].(string); ok {
					id = s
				}
			}
			probs := Validate(g.bytes(t))
			for _, p := range probs {
				if p.Rule == tc.rule && (p.ObjectID == id || tc.typ == "") {
					return
				}
			}
			t.Errorf("no %s problem for %s; got %v", tc.rule, id, probs)
		})
	}
}

func TestValidateRejectsNonJSON(t *testing.T) {
	for _, in := range []string{"", "nope", "[]", `{"type":"bundle","id":"bundle--x","objects":[1]}`} {
		if probs := Validate([]byte(in)); len(probs) == 0 {
			t.Errorf("Validate(%q) found no problem", in)
		}
	}
}

func TestValidateAcceptsTLP1Markings(t *testing.T) {
	b := []byte(`{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","objects":[
	 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3",
	  "object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}]}`)
	if probs := Validate(b); len(probs) > 0 {
		t.Errorf("problems: %v", probs)
	}
}
