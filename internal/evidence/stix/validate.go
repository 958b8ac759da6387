package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Rule names one STIX 2.1 requirement checked by [Validate].
type Rule string

// The rules [Validate] checks.
const (
	RuleJSON        Rule = "json"              // the input is a JSON bundle at all
	RuleBundle      Rule = "bundle"            // type "bundle", id "bundle--<uuid>", objects an array of objects
	RuleType        Rule = "type"              // type present and well formed
	RuleID          Rule = "id"                // id is "<type>--<RFC 4122 uuid>" with the object's own type
	RuleSpecVersion Rule = "spec-version"      // "2.1", required on SDOs, SROs and meta objects
	RuleCreated     Rule = "created"           // present where required, millisecond precision
	RuleModified    Rule = "modified"          // present where required, millisecond precision, >= created
	RuleTimestamp   Rule = "timestamp"         // every timestamp property is a valid STIX timestamp
	RuleRequired    Rule = "required-property" // per-type required properties
	RuleTimeOrder   Rule = "time-order"        // valid_until > valid_from, last >= first observed/seen
	RuleRange       Rule = "range"             // number_observed 1..999,999,999, count 0..999,999,999
	RuleConfidence  Rule = "confidence"        // integer 0..100
	RuleValue       Rule = "value"             // property values well formed (addresses, AS numbers, lists)
	RuleRef         Rule = "ref"               // *_ref/*_refs well formed and resolvable in the bundle
	RuleRefType     Rule = "ref-type"          // a reference points to an object of an allowed type
	RuleDuplicate   Rule = "duplicate"         // no two objects share id and modified
	RuleSCOID       Rule = "sco-id"            // deterministic cyber-observable id matches its content
	RuleMarking     Rule = "marking-definition"
)

// Problem is one violation found by [Validate].
type Problem struct {
	ObjectID string // the offending object's id, or its position when it has none
	Rule     Rule
	Detail   string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.ObjectID, p.Rule, p.Detail)
}

var sdoTypes = set("attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
	"indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
	"observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability")

var sroTypes = set("relationship", "sighting")

var scoTypes = set("artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
	"file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
	"user-account", "windows-registry-key", "x509-certificate")

// metaTypes other than marking-definition are versioned like SDOs.
var versionedMetaTypes = set("language-content", "extension-definition")

var timestampProps = set("created", "modified", "valid_from", "valid_until", "first_observed", "last_observed",
	"first_seen", "last_seen", "published", "start_time", "stop_time", "start", "end")

var requiredProps = map[string][]string{
	"attack-pattern":     {"name"},
	"campaign":           {"name"},
	"course-of-action":   {"name"},
	"grouping":           {"context", "object_refs"},
	"identity":           {"name"},
	"incident":           {"name"},
	"indicator":          {"pattern", "pattern_type", "valid_from"},
	"infrastructure":     {"name"},
	"intrusion-set":      {"name"},
	"malware":            {"is_family"},
	"note":               {"content", "object_refs"},
	"observed-data":      {"first_observed", "last_observed", "number_observed"},
	"opinion":            {"opinion", "object_refs"},
	"report":             {"name", "published", "object_refs"},
	"threat-actor":       {"name"},
	"tool":               {"name"},
	"vulnerability":      {"name"},
	"relationship":       {"relationship_type", "source_ref", "target_ref"},
	"sighting":           {"sighting_of_ref"},
	"autonomous-system":  {"number"},
	"domain-name":        {"value"},
	"email-addr":         {"value"},
	"ipv4-addr":          {"value"},
	"ipv6-addr":          {"value"},
	"mac-addr":           {"value"},
	"url":                {"value"},
	"marking-definition": {"created"},
}

// idContributing lists the properties STIX 2.1 uses to derive the
// deterministic identifiers of the observables Préau deals in.
var idContributing = map[string]string{
	"ipv4-addr":         "value",
	"ipv6-addr":         "value",
	"domain-name":       "value",
	"email-addr":        "value",
	"mac-addr":          "value",
	"url":               "value",
	"autonomous-system": "number",
}

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// validType reports whether s is a syntactically valid STIX type name:
// 3 to 250 characters of lower-case ASCII letters, digits and single
// hyphens.
func validType(s string) bool {
	if len(s) < 3 || len(s) > 250 || strings.Contains(s, "--") || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// splitID splits "type--uuid", checking both halves.
func splitID(id string) (typ string, ok bool) {
	i := strings.LastIndex(id, "--")
	if i < 0 {
		return "", false
	}
	typ = id[:i]
	u, ok := parseUUID(id[i+2:])
	if !ok || !validType(typ) || !u.rfc4122Variant() {
		return "", false
	}
	return typ, true
}

// Validate checks a serialised bundle against the STIX 2.1 rules Préau's
// exports must satisfy (see the Rule constants) and returns every problem
// found, in object order; nil means the bundle passed. It never fails on
// its own: unreadable input is itself a problem.
func Validate(b []byte) []Problem {
	var raw struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return []Problem{{ObjectID: "bundle", Rule: RuleJSON, Detail: err.Error()}}
	}
	v := validator{}
	bundleID := raw.ID
	if bundleID == "" {
		bundleID = "bundle"
	}
	if raw.Type != "bundle" {
		v.add(bundleID, RuleBundle, fmt.Sprintf("type is %q, want \"bundle\"", raw.Type))
	}
	if t, ok := splitID(raw.ID); !ok || t != "bundle" {
		v.add(bundleID, RuleBundle, fmt.Sprintf("id %q is not bundle--<uuid>", raw.ID))
	}

	objs := make([]map[string]any, 0, len(raw.Objects))
	names := make([]string, 0, len(raw.Objects))
	for i, r := range raw.Objects {
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil || m == nil {
			v.add(fmt.Sprintf("objects[%d]", i), RuleBundle, "object is not a JSON object")
			continue
		}
		objs = append(objs, m)
		name, _ := m["id"].(string)
		if name == "" {
			name = fmt.Sprintf("objects[%d]", i)
		}
		names = append(names, name)
	}

	// Index first so that references may point forwards.
	v.types = make(map[string]string, len(objs))
	seen := make(map[string]bool, len(objs))
	for i, m := range objs {
		id, _ := m["id"].(string)
		typ, _ := m["type"].(string)
		if id == "" {
			continue
		}
		v.types[id] = typ
		mod, _ := m["modified"].(string)
		key := id + "\x00" + mod
		if seen[key] {
			v.add(names[i], RuleDuplicate, "another object has the same id and modified")
		}
		seen[key] = true
	}
	for i, m := range objs {
		v.object(names[i], m)
	}
	return v.problems
}

type validator struct {
	problems []Problem
	types    map[string]string // id -> type of every object in the bundle
}

func (v *validator) add(id string, r Rule, detail string) {
	v.problems = append(v.problems, Problem{ObjectID: id, Rule: r, Detail: detail})
}

func (v *validator) object(name string, m map[string]any) {
	typ, _ := m["type"].(string)
	if !validType(typ) {
		v.add(name, RuleType, fmt.Sprintf("type %q is missing or malformed", typ))
		return
	}
	id, _ := m["id"].(string)
	if idType, ok := splitID(id); !ok {
		v.add(name, RuleID, fmt.Sprintf("id %q is not <type>--<RFC 4122 uuid>", id))
	} else if idType != typ {
		v.add(name, RuleID, fmt.Sprintf("id prefix %q differs from type %q", idType, typ))
	}

	sdoLike := sdoTypes[typ] || sroTypes[typ] || versionedMetaTypes[typ]
	sv, hasSV := m["spec_version"]
	switch {
	case hasSV && sv != SpecVersion:
		v.add(name, RuleSpecVersion, fmt.Sprintf("spec_version is %v, want %q", sv, SpecVersion))
	case !hasSV && (sdoLike || typ == "marking-definition"):
		v.add(name, RuleSpecVersion, "spec_version is required")
	}

	for k, val := range m {
		if !timestampProps[k] {
			continue
		}
		s, ok := val.(string)
		if !ok {
			v.add(name, RuleTimestamp, k+" is not a string")
			continue
		}
		if _, err := parseTimestamp(s); err != nil {
			v.add(name, RuleTimestamp, fmt.Sprintf("%s: %v", k, err))
		}
	}
	created, hasCreated := v.stamp(m, "created")
	modified, hasModified := v.stamp(m, "modified")
	if sdoLike || typ == "marking-definition" {
		if _, ok := m["created"]; !ok {
			v.add(name, RuleCreated, "created is required")
		} else if s, _ := m["created"].(string); !millisecondPrecise(s) {
			v.add(name, RuleCreated, "created must have millisecond precision")
		}
	}
	if sdoLike {
		if _, ok := m["modified"]; !ok {
			v.add(name, RuleModified, "modified is required")
		} else if s, _ := m["modified"].(string); !millisecondPrecise(s) {
			v.add(name, RuleModified, "modified must have millisecond precision")
		}
	}
	if hasCreated && hasModified && modified.Before(created) {
		v.add(name, RuleModified, "modified is earlier than created")
	}

	for _, p := range requiredProps[typ] {
		if isEmpty(m[p]) {
			v.add(name, RuleRequired, p+" is required")
		}
	}
	if typ == "observed-data" && isEmpty(m["object_refs"]) && isEmpty(m["objects"]) {
		v.add(name, RuleRequired, "object_refs is required")
	}
	if refs, ok := m["external_references"].([]any); ok {
		for i, r := range refs {
			er, _ := r.(map[string]any)
			if s, _ := er["source_name"].(string); s == "" {
				v.add(name, RuleRequired, fmt.Sprintf("external_references[%d].source_name is required", i))
			}
		}
	}

	if c, ok := m["confidence"]; ok {
		if n, isInt := asInt(c); !isInt || n < 0 || n > 100 {
			v.add(name, RuleConfidence, fmt.Sprintf("confidence %v is not an integer in 0..100", c))
		}
	}

	v.typeSpecific(name, typ, m)
	v.refs(name, typ, m)
	if prop, ok := idContributing[typ]; ok {
		v.scoID(name, typ, id, prop, m)
	}
}

// stamp returns a parsed timestamp property, if present and valid.
func (v *validator) stamp(m map[string]any, k string) (time.Time, bool) {
	s, ok := m[k].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := parseTimestamp(s)
	return t, err == nil
}

func (v *validator) typeSpecific(name, typ string, m map[string]any) {
	switch typ {
	case "indicator":
		from, ok1 := v.stamp(m, "valid_from")
		until, ok2 := v.stamp(m, "valid_until")
		if ok1 && ok2 && !until.After(from) {
			v.add(name, RuleTimeOrder, "valid_until must be later than valid_from")
		}
	case "observed-data":
		first, ok1 := v.stamp(m, "first_observed")
		last, ok2 := v.stamp(m, "last_observed")
		if ok1 && ok2 && last.Before(first) {
			v.add(name, RuleTimeOrder, "last_observed is earlier than first_observed")
		}
		if n, ok := m["number_observed"]; ok {
			if c, isInt := asInt(n); !isInt || c < 1 || c > maxCount {
				v.add(name, RuleRange, fmt.Sprintf("number_observed %v is not an integer in 1..999,999,999", n))
			}
		}
	case "sighting":
		first, ok1 := v.stamp(m, "first_seen")
		last, ok2 := v.stamp(m, "last_seen")
		if ok1 && ok2 && last.Before(first) {
			v.add(name, RuleTimeOrder, "last_seen is earlier than first_seen")
		}
		if n, ok := m["count"]; ok {
			if c, isInt := asInt(n); !isInt || c < 0 || c > maxCount {
				v.add(name, RuleRange, fmt.Sprintf("count %v is not an integer in 0..999,999,999", n))
			}
		}
	case "ipv4-addr", "ipv6-addr":
		s, _ := m["value"].(string)
		if s != "" && !addrValueOK(typ, s) {
			v.add(name, RuleValue, fmt.Sprintf("value %q is not an %s address or CIDR block", s, strings.TrimSuffix(typ, "-addr")))
		}
	case "autonomous-system":
		if n, ok := m["number"]; ok {
			if c, isInt := asInt(n); !isInt || c < 0 || c > math.MaxUint32 {
				v.add(name, RuleValue, fmt.Sprintf("number %v is not an AS number", n))
			}
		}
	case "marking-definition":
		v.marking(name, m)
	}
}

func addrValueOK(typ, s string) bool {
	var a netip.Addr
	if p, err := netip.ParsePrefix(s); err == nil {
		a = p.Addr()
	} else if x, err := netip.ParseAddr(s); err == nil {
		a = x
	} else {
		return false
	}
	if typ == "ipv4-addr" {
		return a.Is4()
	}
	return a.Is6() && a.Zone() == ""
}

// marking checks that anything claiming to be a TLP 2.0 marking is exactly
// the OASIS one: partners match TLP by identifier.
func (v *validator) marking(name string, m map[string]any) {
	id, _ := m["id"].(string)
	if _, hasDef := m["definition"]; !hasDef {
		if _, hasExt := m["extensions"]; !hasExt {
			v.add(name, RuleMarking, "needs either definition or extensions")
		}
	}
	level := ""
	if exts, ok := m["extensions"].(map[string]any); ok {
		if e, ok := exts[TLP20ExtensionID].(map[string]any); ok {
			level, _ = e["tlp_2_0"].(string)
			if level == "" {
				level = "?"
			}
		}
	}
	if level == "" && !isTLP2MarkingID(id) {
		return // some other marking, such as a statement
	}
	want, err := TLPMarking(level)
	if err != nil {
		// Named by id but with a missing or unknown extension level.
		if r, ok := tlpRankByID(id); ok {
			want, _ = TLPMarking(tlpLevels[r].level)
			v.add(name, RuleMarking, fmt.Sprintf("TLP 2.0 marking must carry extension %s with tlp_2_0 %q", TLP20ExtensionID, want.Extensions[TLP20ExtensionID].TLP20))
			return
		}
		v.add(name, RuleMarking, fmt.Sprintf("unknown tlp_2_0 level %q", level))
		return
	}
	if id != want.ID {
		v.add(name, RuleMarking, fmt.Sprintf("TLP 2.0 %s marking must have id %s", level, want.ID))
	}
	if n, _ := m["name"].(string); n != want.Name {
		v.add(name, RuleMarking, fmt.Sprintf("TLP 2.0 %s marking must be named %q", level, want.Name))
	}
}

func tlpRankByID(id string) (int, bool) {
	for i, t := range tlpLevels {
		if t.id == id {
			return i, true
		}
	}
	return -1, false
}

// refTarget says which types a reference property may point to; nil allows
// any type.
func refTarget(typ, prop string) func(string) bool {
	switch prop {
	case "created_by_ref":
		return is("identity")
	case "object_marking_refs", "marking_ref":
		return is("marking-definition")
	case "where_sighted_refs":
		return is("identity", "location")
	case "observed_data_refs":
		return is("observed-data")
	case "sighting_of_ref":
		return func(t string) bool { return !scoTypes[t] && !sroTypes[t] && t != "marking-definition" }
	case "source_ref", "target_ref":
		return func(t string) bool { return !sroTypes[t] && t != "marking-definition" }
	case "object_refs":
		if typ == "observed-data" {
			return func(t string) bool {
				return scoTypes[t] || t == "relationship" || (!sdoTypes[t] && !sroTypes[t] && t != "marking-definition")
			}
		}
	}
	return nil
}

func is(types ...string) func(string) bool {
	return func(t string) bool {
		for _, x := range types {
			if t == x {
				return true
			}
		}
		return false
	}
}

func (v *validator) refs(name, typ string, m map[string]any) {
	for k, val := range m {
		switch {
		case strings.HasSuffix(k, "_ref"):
			s, ok := val.(string)
			if !ok {
				v.add(name, RuleRef, k+" is not a string")
				continue
			}
			v.ref(name, typ, k, s)
		case strings.HasSuffix(k, "_refs"):
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				v.add(name, RuleRef, k+" is not a non-empty list")
				continue
			}
			for _, x := range list {
				s, ok := x.(string)
				if !ok {
					v.add(name, RuleRef, k+" holds a non-string")
					continue
				}
				v.ref(name, typ, k, s)
			}
		}
	}
	if gm, ok := m["granular_markings"].([]any); ok {
		for _, g := range gm {
			if s, ok := g.(map[string]any)["marking_ref"].(string); ok {
				v.ref(name, typ, "marking_ref", s)
			}
		}
	}
}

func (v *validator) ref(name, typ, prop, ref string) {
	refType, ok := splitID(ref)
	if !ok {
		v.add(name, RuleRef, fmt.Sprintf("%s %q is not a STIX identifier", prop, ref))
		return
	}
	if actual, inBundle := v.types[ref]; inBundle {
		refType = actual
	} else if _, known := TLPOfMarking(ref); !known {
		v.add(name, RuleRef, fmt.Sprintf("%s %s is not in the bundle", prop, ref))
		return
	}
	if allowed := refTarget(typ, prop); allowed != nil && !allowed(refType) {
		v.add(name, RuleRefType, fmt.Sprintf("%s may not point to a %s", prop, refType))
	}
}

func (v *validator) scoID(name, typ, id, prop string, m map[string]any) {
	val, ok := m[prop]
	if !ok {
		return // already reported as a missing required property
	}
	var canon []byte
	switch x := val.(type) {
	case string:
		canon = append([]byte(`{"`+prop+`":`), jcsString(x)...)
	case json.Number:
		n, isInt := asInt(x)
		if !isInt {
			return
		}
		canon = strconv.AppendInt([]byte(`{"`+prop+`":`), n, 10)
	default:
		return
	}
	canon = append(canon, '}')
	want := typ + "--" + uuidV5(scoNamespace, canon).String()
	if id != want {
		v.add(name, RuleSCOID, fmt.Sprintf("deterministic id for %s should be %s", canon, want))
	}
}

// jcsString serialises s as RFC 8785 (JSON Canonicalization Scheme) does,
// which is what STIX hashes for deterministic identifiers. encoding/json
// differs: it escapes U+2028, U+2029 and HTML characters.
func jcsString(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, `\"`...)
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

func asInt(x any) (int64, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err == nil {
		return i, true
	}
	// 1.0 is an integer to JSON Schema, so accept integral floats.
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func isEmpty(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return false
}
