package stix

import (
	"fmt"
	"strconv"
	"time"
)

// SpecVersion is the only STIX version Préau produces.
const SpecVersion = "2.1"

// TimestampLayout is the STIX timestamp form Préau writes: UTC with
// millisecond precision, which STIX 2.1 requires of created and modified.
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// Timestamp is a STIX timestamp. It marshals in [TimestampLayout], truncating
// (never rounding) to the millisecond so that modified can never jump ahead
// of a later event.
type Timestamp struct{ time.Time }

// TS wraps t as a [Timestamp].
func TS(t time.Time) Timestamp { return Timestamp{t.UTC().Truncate(time.Millisecond)} }

// MarshalJSON implements [json.Marshaler].
func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimestampLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimestampLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements [json.Unmarshaler], accepting any precision STIX
// allows but insisting on the "Z" suffix STIX requires.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("stix: timestamp %s: not a string", b)
	}
	v, err := parseTimestamp(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// parseTimestamp parses a STIX timestamp: RFC 3339, upper-case T, UTC "Z".
func parseTimestamp(s string) (time.Time, error) {
	if !timestampShape(s) {
		return time.Time{}, fmt.Errorf("stix: timestamp %q: want YYYY-MM-DDTHH:MM:SS[.s+]Z", s)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stix: timestamp %q: %w", s, err)
	}
	return v, nil
}

// timestampShape checks the lexical form, which time.Parse alone does not
// pin down (it accepts offsets and lower-case letters).
func timestampShape(s string) bool {
	const base = len("2006-01-02T15:04:05")
	if len(s) < base+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := range base {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	frac := s[base : len(s)-1]
	if frac == "" {
		return true
	}
	if len(frac) < 2 || frac[0] != '.' {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}

// millisecondPrecise reports whether s carries at least millisecond
// precision, as STIX requires of created and modified.
func millisecondPrecise(s string) bool {
	const base = len("2006-01-02T15:04:05")
	return len(s) >= base+5 && s[base] == '.'
}

// Object is any STIX object that can sit in a [Bundle].
type Object interface {
	ObjectID() string
	ObjectType() string
}

// ExternalReference points to non-STIX information such as an ATT&CK
// technique or a CAPEC entry.
type ExternalReference struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// KillChainPhase places an attack pattern in a kill chain.
type KillChainPhase struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

// Common holds the STIX common properties. Which of them are allowed depends
// on the object kind: cyber-observables carry no created, modified or
// confidence, marking definitions no modified.
type Common struct {
	Type               string              `json:"type"`
	SpecVersion        string              `json:"spec_version,omitempty"`
	ID                 string              `json:"id"`
	CreatedByRef       string              `json:"created_by_ref,omitempty"`
	Created            Timestamp           `json:"created,omitzero"`
	Modified           Timestamp           `json:"modified,omitzero"`
	Revoked            bool                `json:"revoked,omitempty"`
	Labels             []string            `json:"labels,omitempty"`
	Confidence         *int                `json:"confidence,omitempty"`
	ExternalReferences []ExternalReference `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string            `json:"object_marking_refs,omitempty"`
}

// ObjectID implements [Object].
func (c Common) ObjectID() string { return c.ID }

// ObjectType implements [Object].
func (c Common) ObjectType() string { return c.Type }

// Bundle is a STIX 2.1 bundle. Bundles carry no spec_version in 2.1.
type Bundle struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Objects []Object `json:"objects,omitempty"`
}

// Identity describes the organisation that produced the intelligence.
type Identity struct {
	Common
	Name               string `json:"name"`
	Description        string `json:"description,omitempty"`
	IdentityClass      string `json:"identity_class,omitempty"`
	ContactInformation string `json:"contact_information,omitempty"`
}

// Incident is the STIX 2.1 incident stub: a name, a description and kill
// chain phases, nothing more until STIX grows a full incident model.
type Incident struct {
	Common
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// AttackPattern describes a way of attacking, tied to ATT&CK and CAPEC
// through external references.
type AttackPattern struct {
	Common
	Name            string           `json:"name"`
	Description     string           `json:"description,omitempty"`
	KillChainPhases []KillChainPhase `json:"kill_chain_phases,omitempty"`
}

// ObservedData records that cyber-observables were seen, without asserting
// they are malicious.
type ObservedData struct {
	Common
	FirstObserved  Timestamp `json:"first_observed"`
	LastObserved   Timestamp `json:"last_observed"`
	NumberObserved int64     `json:"number_observed"`
	ObjectRefs     []string  `json:"object_refs"`
}

// IPv4Addr is the ipv4-addr cyber-observable. Its deprecated belongs_to_refs
// property is not written: STIX 2.1 prefers a "belongs-to" relationship.
type IPv4Addr struct {
	Common
	Value string `json:"value"`
}

// IPv6Addr is the ipv6-addr cyber-observable.
type IPv6Addr struct {
	Common
	Value string `json:"value"`
}

// AutonomousSystem is the autonomous-system cyber-observable.
type AutonomousSystem struct {
	Common
	Number uint32 `json:"number"`
	Name   string `json:"name,omitempty"`
	RIR    string `json:"rir,omitempty"`
}

// IndicatorObject is the STIX indicator SDO: a detection pattern with a
// validity window. (The name Indicator is taken by what [ParseIndicators]
// returns.)
type IndicatorObject struct {
	Common
	Name           string    `json:"name,omitempty"`
	Description    string    `json:"description,omitempty"`
	IndicatorTypes []string  `json:"indicator_types,omitempty"`
	Pattern        string    `json:"pattern"`
	PatternType    string    `json:"pattern_type"`
	ValidFrom      Timestamp `json:"valid_from"`
	ValidUntil     Timestamp `json:"valid_until,omitzero"`
}

// Sighting says that something (here an indicator) was seen by someone.
type Sighting struct {
	Common
	Description      string    `json:"description,omitempty"`
	FirstSeen        Timestamp `json:"first_seen,omitzero"`
	LastSeen         Timestamp `json:"last_seen,omitzero"`
	Count            *int64    `json:"count,omitempty"`
	SightingOfRef    string    `json:"sighting_of_ref"`
	ObservedDataRefs []string  `json:"observed_data_refs,omitempty"`
	WhereSightedRefs []string  `json:"where_sighted_refs,omitempty"`
}

// Relationship links two objects.
type Relationship struct {
	Common
	RelationshipType string `json:"relationship_type"`
	Description      string `json:"description,omitempty"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

// MarkingDefinition is a data marking such as a TLP level.
type MarkingDefinition struct {
	Common
	Name       string                      `json:"name,omitempty"`
	Extensions map[string]MarkingExtension `json:"extensions,omitempty"`
}

// MarkingExtension is the body of the TLP 2.0 property extension.
type MarkingExtension struct {
	ExtensionType string `json:"extension_type"`
	TLP20         string `json:"tlp_2_0"`
}
