package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Safety floors for imported prefixes. A partner's typo or compromised feed
// must not be able to blackhole a country or a cloud provider from every
// school: anything broader is skipped for a human to look at.
const (
	MinIPv4PrefixBits = 16
	MinIPv6PrefixBits = 32
)

// Indicator is one address prefix a partner asks us to treat as hostile.
// A partner indicator whose pattern names several prefixes yields several
// Indicators with the same ID.
type Indicator struct {
	ID         string
	Prefix     netip.Prefix
	ValidFrom  time.Time
	ValidUntil time.Time // zero when the partner set no end
	Confidence int       // 0..100, or -1 when the partner gave none
	Producer   string    // name of the created_by_ref identity, if in the bundle
	Labels     []string
	TLP        string // most restrictive TLP 2.0 level marking it, "" when unmarked
}

// Skipped is an indicator, or one prefix of it, that was deliberately not
// imported, and why.
type Skipped struct {
	ID     string
	Reason string
}

// ErrMalformedBundle is wrapped by every error of [ParseIndicators].
var ErrMalformedBundle = errors.New("malformed bundle")

// importIndicator is the part of an indicator ParseIndicators reads.
type importIndicator struct {
	ID                string       `json:"id"`
	SpecVersion       *string      `json:"spec_version"`
	Modified          string       `json:"modified"`
	Revoked           bool         `json:"revoked"`
	Pattern           string       `json:"pattern"`
	PatternType       string       `json:"pattern_type"`
	ValidFrom         string       `json:"valid_from"`
	ValidUntil        string       `json:"valid_until"`
	Confidence        *json.Number `json:"confidence"`
	Labels            []string     `json:"labels"`
	CreatedByRef      string       `json:"created_by_ref"`
	ObjectMarkingRefs []string     `json:"object_marking_refs"`
}

// ParseIndicators reads a partner's STIX bundle (the caller limits its size)
// and returns the address indicators it carries, keeping only the latest
// version of each. Indicators that are revoked, expired at now, written in
// another pattern language, outside the supported pattern subset (see
// [ParsePattern]), or too broad or not public are returned in skipped with a
// reason instead.
//
// Anything malformed — not a bundle, an indicator missing a required
// property or with a bad timestamp, confidence or pattern — fails the whole
// import with an error wrapping [ErrMalformedBundle] that names each
// offending object, since a partner emitting broken STIX needs telling
// rather than silently half-importing.
func ParseIndicators(b []byte, now time.Time) (indicators []Indicator, skipped []Skipped, err error) {
	var bundle struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		return nil, nil, fmt.Errorf("stix: import: %w: %w", ErrMalformedBundle, err)
	}
	if bundle.Type != "bundle" {
		return nil, nil, fmt.Errorf("stix: import: %w: type is %q, want \"bundle\"", ErrMalformedBundle, bundle.Type)
	}

	identities := map[string]string{}
	markings := map[string]string{} // marking id -> TLP level, from the bundle itself
	var inds []importIndicator
	var errs []error
	for i, raw := range bundle.Objects {
		var head struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			errs = append(errs, fmt.Errorf("objects[%d]: %w", i, err))
			continue
		}
		switch head.Type {
		case "identity":
			identities[head.ID] = head.Name
		case "marking-definition":
			if level, ok := markingLevel(raw); ok {
				markings[head.ID] = level
			}
		case "indicator":
			var ind importIndicator
			if err := json.Unmarshal(raw, &ind); err != nil {
				errs = append(errs, fmt.Errorf("indicator %s: %w", head.ID, err))
				continue
			}
			inds = append(inds, ind)
		}
	}

	latest := map[string]int{} // id -> index in kept
	var kept []importIndicator
	for _, ind := range inds {
		if err := checkIndicator(ind); err != nil {
			errs = append(errs, fmt.Errorf("indicator %s: %w", ind.ID, err))
			continue
		}
		if j, ok := latest[ind.ID]; ok {
			// Same identifier, several versions: the latest modified wins,
			// and a tie goes to the later one in the bundle.
			if ind.Modified >= kept[j].Modified {
				kept[j] = ind
			}
			continue
		}
		latest[ind.ID] = len(kept)
		kept = append(kept, ind)
	}

	for _, ind := range kept {
		prefixes, skip, err := ind.prefixes(now)
		if err != nil {
			errs = append(errs, fmt.Errorf("indicator %s: %w", ind.ID, err))
			continue
		}
		if skip != "" {
			skipped = append(skipped, Skipped{ID: ind.ID, Reason: skip})
			continue
		}
		from, _ := parseTimestamp(ind.ValidFrom)
		var until time.Time
		if ind.ValidUntil != "" {
			until, _ = parseTimestamp(ind.ValidUntil)
		}
		conf := -1
		if ind.Confidence != nil {
			n, _ := ind.Confidence.Int64()
			conf = int(n)
		}
		tlp := strictestTLP(ind.ObjectMarkingRefs, markings)
		for _, p := range prefixes {
			if reason := unsafePrefix(p); reason != "" {
				skipped = append(skipped, Skipped{ID: ind.ID, Reason: p.String() + ": " + reason})
				continue
			}
			indicators = append(indicators, Indicator{
				ID:         ind.ID,
				Prefix:     p,
				ValidFrom:  from,
				ValidUntil: until,
				Confidence: conf,
				Producer:   identities[ind.CreatedByRef],
				Labels:     append([]string(nil), ind.Labels...),
				TLP:        tlp,
			})
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("stix: import: %w: %w", ErrMalformedBundle, errors.Join(errs...))
	}
	return indicators, skipped, nil
}

// checkIndicator reports what makes an indicator malformed, if anything.
// STIX 2.0 indicators (no spec_version on the object) are accepted without
// pattern_type, which 2.0 did not have.
func checkIndicator(ind importIndicator) error {
	if t, ok := splitID(ind.ID); !ok || t != "indicator" {
		return fmt.Errorf("id %q is not indicator--<uuid>", ind.ID)
	}
	if ind.SpecVersion != nil && *ind.SpecVersion != SpecVersion {
		return fmt.Errorf("spec_version %q is not %q", *ind.SpecVersion, SpecVersion)
	}
	if ind.Pattern == "" {
		return errors.New("pattern is required")
	}
	if ind.PatternType == "" && ind.SpecVersion != nil {
		return errors.New("pattern_type is required")
	}
	if ind.ValidFrom == "" {
		return errors.New("valid_from is required")
	}
	from, err := parseTimestamp(ind.ValidFrom)
	if err != nil {
		return fmt.Errorf("valid_from: %w", err)
	}
	if ind.ValidUntil != "" {
		until, err := parseTimestamp(ind.ValidUntil)
		if err != nil {
			return fmt.Errorf("valid_until: %w", err)
		}
		if !until.After(from) {
			return errors.New("valid_until is not later than valid_from")
		}
	}
	if ind.Modified != "" {
		if _, err := parseTimestamp(ind.Modified); err != nil {
			return fmt.Errorf("modified: %w", err)
		}
	}
	if ind.Confidence != nil {
		n, err := ind.Confidence.Int64()
		if err != nil || n < 0 || n > 100 {
			return fmt.Errorf("confidence %s is not an integer in 0..100", ind.Confidence.String())
		}
	}
	return nil
}

// prefixes returns the indicator's prefixes, or why it is skipped, or why
// it is malformed.
func (ind importIndicator) prefixes(now time.Time) ([]netip.Prefix, string, error) {
	if ind.Revoked {
		return nil, "revoked", nil
	}
	if ind.ValidUntil != "" {
		if until, _ := parseTimestamp(ind.ValidUntil); !until.After(now) {
			return nil, "expired at " + ind.ValidUntil, nil
		}
	}
	if ind.PatternType != "" && ind.PatternType != "stix" {
		return nil, fmt.Sprintf("pattern_type %q is not supported", ind.PatternType), nil
	}
	ps, err := ParsePattern(ind.Pattern)
	switch {
	case errors.Is(err, ErrUnsupportedPattern):
		return nil, err.Error(), nil
	case err != nil:
		return nil, "", fmt.Errorf("pattern: %w", err)
	}
	return ps, "", nil
}

// unsafePrefix says why a prefix must not reach the blocklist, if it must
// not.
func unsafePrefix(p netip.Prefix) string {
	a := p.Addr()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return "not a public unicast address"
	}
	if a.Is4() && p.Bits() < MinIPv4PrefixBits {
		return fmt.Sprintf("broader than /%d", MinIPv4PrefixBits)
	}
	if a.Is6() && p.Bits() < MinIPv6PrefixBits {
		return fmt.Sprintf("broader than /%d", MinIPv6PrefixBits)
	}
	return ""
}

// markingLevel reads the TLP level of a marking-definition object, TLP 2.0
// extension or TLP 1.0 definition alike.
func markingLevel(raw json.RawMessage) (string, bool) {
	var md struct {
		ID             string `json:"id"`
		DefinitionType string `json:"definition_type"`
		Definition     struct {
			TLP string `json:"tlp"`
		} `json:"definition"`
		Extensions map[string]struct {
			TLP20 string `json:"tlp_2_0"`
		} `json:"extensions"`
	}
	if json.Unmarshal(raw, &md) != nil {
		return "", false
	}
	if level, ok := TLPOfMarking(md.ID); ok {
		return level, true
	}
	if e, ok := md.Extensions[TLP20ExtensionID]; ok {
		if _, ok := TLPRank(e.TLP20); ok {
			return normalizeTLP(e.TLP20), true
		}
	}
	if md.DefinitionType == "tlp" {
		l := normalizeTLP(md.Definition.TLP)
		if l == "white" {
			l = TLPClear
		}
		if _, ok := TLPRank(l); ok {
			return l, true
		}
	}
	return "", false
}

// strictestTLP returns the most restrictive TLP level among refs: when
// markings disagree, honouring the strictest is the only safe reading.
func strictestTLP(refs []string, inBundle map[string]string) string {
	best, bestRank := "", -1
	for _, r := range refs {
		level, ok := TLPOfMarking(r)
		if !ok {
			level, ok = inBundle[r]
		}
		if !ok {
			continue
		}
		if rank, _ := TLPRank(level); rank > bestRank {
			best, bestRank = level, rank
		}
	}
	return best
}
