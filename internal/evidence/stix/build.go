package stix

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultIndicatorValidity is how long after an address was last seen its
// indicator stays valid when [EpisodeInput.IndicatorValidity] is zero. A week
// covers the usual return of a botnet while letting residential addresses,
// which change hands, age out of partners' blocklists.
const DefaultIndicatorValidity = 7 * 24 * time.Hour

// maxCount is the largest count or number_observed STIX allows.
const maxCount = 999_999_999

// catalogueEpoch is the created and modified time of objects whose content
// is fixed by this package rather than by an episode (the producer identity,
// the attack patterns). Deriving it from an episode would give one
// identifier different created times across exports, which STIX forbids.
var catalogueEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// EpisodeInput is one recorded attack episode to export.
type EpisodeInput struct {
	Producer  string // organisation name for the identity, e.g. "Lycée Jean Moulin — Préau"
	CaseRef   string // investigators' case reference
	TLP       string // "clear", "green", "amber", "amber+strict" or "red"
	EpisodeID string
	Start     time.Time
	End       time.Time
	PeakRate  float64 // requests/s
	Requests  int64
	Kind      string // "http_flood", "login_flood", "slow_connections" (also "tcp_flood")
	Sources   []Source

	// IndicatorValidity is how long after LastSeen a source's indicator
	// stays valid; zero means DefaultIndicatorValidity.
	IndicatorValidity time.Duration
}

// Source is one attacking address as attributed by the shield.
type Source struct {
	Addr       netip.Addr
	FirstSeen  time.Time
	LastSeen   time.Time
	Requests   int64
	ASN        uint32
	ASName     string
	Country    string
	Class      string
	Confidence float64 // 0..1, from attribution
}

// technique is one attack pattern Préau can assert, with its ATT&CK and
// CAPEC references.
type technique struct {
	key, name, description string
	refs                   []ExternalReference
}

func attackRef(id, name string) ExternalReference {
	path := strings.ReplaceAll(id, ".", "/")
	return ExternalReference{
		SourceName:  "mitre-attack",
		ExternalID:  id,
		Description: name,
		URL:         "https://attack.mitre.org/techniques/" + path + "/",
	}
}

func capecRef(n int, name string) ExternalReference {
	s := strconv.Itoa(n)
	return ExternalReference{
		SourceName:  "capec",
		ExternalID:  "CAPEC-" + s,
		Description: name,
		URL:         "https://capec.mitre.org/data/definitions/" + s + ".html",
	}
}

// techniqueFor maps an episode kind to what it is in ATT&CK and CAPEC terms.
// The shield sees requests, not bandwidth, so application-layer kinds map to
// Endpoint Denial of Service (T1499); only a transport-layer flood is claimed
// as Network Denial of Service (T1498). Unknown kinds still export, under the
// generic flooding pattern, so that a new detector never blocks sharing.
func techniqueFor(kind string) technique {
	switch kind {
	case "http_flood":
		return technique{"http_flood", "HTTP flood",
			"High-rate HTTP requests meant to exhaust the web service's capacity.",
			[]ExternalReference{
				attackRef("T1499", "Endpoint Denial of Service"),
				attackRef("T1499.002", "Endpoint Denial of Service: Service Exhaustion Flood"),
				capecRef(125, "Flooding"),
				capecRef(488, "HTTP Flood"),
			}}
	case "login_flood":
		return technique{"login_flood", "Login flood",
			"High-rate requests against the authentication endpoint, whose password hashing makes each request expensive.",
			[]ExternalReference{
				attackRef("T1499", "Endpoint Denial of Service"),
				attackRef("T1499.003", "Endpoint Denial of Service: Application Exhaustion Flood"),
				capecRef(125, "Flooding"),
				capecRef(488, "HTTP Flood"),
			}}
	case "slow_connections":
		return technique{"slow_connections", "Slow HTTP connection exhaustion",
			"Many connections held open with deliberately slow requests to exhaust the server's connection slots.",
			[]ExternalReference{
				attackRef("T1499", "Endpoint Denial of Service"),
				attackRef("T1499.002", "Endpoint Denial of Service: Service Exhaustion Flood"),
				capecRef(469, "HTTP DoS"),
			}}
	case "tcp_flood":
		return technique{"tcp_flood", "TCP flood",
			"High-rate TCP connection attempts meant to exhaust connection state.",
			[]ExternalReference{
				attackRef("T1498", "Network Denial of Service"),
				attackRef("T1498.001", "Network Denial of Service: Direct Network Flood"),
				capecRef(125, "Flooding"),
				capecRef(482, "TCP Flood"),
			}}
	default:
		return technique{"denial_of_service", "Denial of service",
			"Traffic meant to make the service unavailable to its users.",
			[]ExternalReference{
				attackRef("T1498", "Network Denial of Service"),
				attackRef("T1499", "Endpoint Denial of Service"),
				capecRef(125, "Flooding"),
			}}
	}
}

var impactPhase = []KillChainPhase{{KillChainName: "mitre-attack", PhaseName: "impact"}}

// ErrInvalidEpisode is wrapped by every input error of [BuildEpisodeBundle].
var ErrInvalidEpisode = errors.New("invalid episode")

// BuildEpisodeBundle turns an episode into a STIX 2.1 bundle: the producer
// identity, the incident, the attack pattern, and for every source its
// address (and autonomous system), observed-data, indicator and sighting,
// all tied together by relationships. Every object describing the episode
// is marked with the episode's TLP level; the producer identity and the
// attack pattern, public and shared by all episodes, are marked TLP:CLEAR.
// The bundle includes the definitions of the markings it uses.
//
// Identifiers are deterministic. Objects that belong to the episode are
// keyed by the episode identifier, so re-exporting a grown episode yields new
// versions (a later modified) of the same objects; addresses and autonomous
// systems use STIX's deterministic cyber-observable identifiers.
//
// Errors wrap [ErrInvalidEpisode] and name the offending field or source.
func BuildEpisodeBundle(in EpisodeInput) (Bundle, error) {
	marking, err := TLPMarking(in.TLP)
	if err != nil {
		return Bundle{}, fmt.Errorf("stix: build episode %q: %w: %w", in.EpisodeID, ErrInvalidEpisode, err)
	}
	if err := checkEpisode(in); err != nil {
		return Bundle{}, fmt.Errorf("stix: build episode %q: %w: %w", in.EpisodeID, ErrInvalidEpisode, err)
	}
	validity := in.IndicatorValidity
	if validity == 0 {
		validity = DefaultIndicatorValidity
	}
	sources, err := normalizeSources(in)
	if err != nil {
		return Bundle{}, fmt.Errorf("stix: build episode %q: %w: %w", in.EpisodeID, ErrInvalidEpisode, err)
	}

	clear, _ := TLPMarking(TLPClear)
	b := builder{
		marks:      []string{marking.ID},
		publicMark: []string{clear.ID},
		start:      TS(in.Start),
		end:        TS(in.End),
		episode:    in.EpisodeID,
	}
	// Seven objects per source plus a handful per episode; sizing once keeps
	// large episodes from re-growing the slice a dozen times.
	objs := make([]Object, 0, 8+7*len(sources))
	objs = append(objs, clear)
	if marking.ID != clear.ID {
		objs = append(objs, marking)
	}

	identity := Identity{
		Common:        b.catalogue("identity", stableID("identity", in.Producer)),
		Name:          in.Producer,
		IdentityClass: "organization",
		Description:   "School platform operator sharing denial-of-service evidence collected by the Préau shield.",
	}
	b.author = identity.ID
	objs = append(objs, identity)

	tech := techniqueFor(in.Kind)
	incident := Incident{
		Common:          b.episodic("incident", stableID("incident", in.EpisodeID)),
		Name:            fmt.Sprintf("Denial-of-service episode %s (%s)", in.EpisodeID, tech.name),
		Description:     incidentDescription(in, len(sources)),
		KillChainPhases: impactPhase,
	}
	if in.CaseRef != "" {
		incident.ExternalReferences = []ExternalReference{{SourceName: "case-reference", ExternalID: in.CaseRef}}
	}
	pattern := AttackPattern{
		Common:          b.catalogue("attack-pattern", stableID("attack-pattern", tech.key)),
		Name:            tech.name,
		Description:     tech.description,
		KillChainPhases: impactPhase,
	}
	pattern.ExternalReferences = tech.refs
	objs = append(objs, incident, pattern,
		b.relationship("related-to", incident.ID, pattern.ID, "The episode used this attack pattern."))

	// Autonomous systems are shared between sources; emit each once, in
	// number order, before the addresses that belong to them.
	asNames := map[uint32]string{}
	var asns []uint32
	for _, s := range sources {
		if s.ASN == 0 {
			continue
		}
		if _, seen := asNames[s.ASN]; !seen {
			asns = append(asns, s.ASN)
			asNames[s.ASN] = s.ASName
		} else if asNames[s.ASN] == "" {
			asNames[s.ASN] = s.ASName
		}
	}
	slices.Sort(asns)
	asIDs := make(map[uint32]string, len(asns))
	for _, n := range asns {
		as := AutonomousSystem{Common: b.observable("autonomous-system", asID(n)), Number: n, Name: asNames[n]}
		asIDs[n] = as.ID
		objs = append(objs, as)
	}

	for _, s := range sources {
		objs = b.appendSource(objs, s, in, identity.ID, incident.ID, pattern.ID, asIDs[s.ASN], validity)
	}

	return Bundle{
		Type:    "bundle",
		ID:      stableID("bundle", in.EpisodeID, b.end.Format(TimestampLayout), marking.ID),
		Objects: objs,
	}, nil
}

func checkEpisode(in EpisodeInput) error {
	var errs []error
	if strings.TrimSpace(in.Producer) == "" {
		errs = append(errs, errors.New("producer is empty"))
	}
	if strings.TrimSpace(in.EpisodeID) == "" {
		errs = append(errs, errors.New("episode id is empty"))
	}
	if in.Start.IsZero() || in.End.IsZero() {
		errs = append(errs, errors.New("start and end are required"))
	} else if in.End.Before(in.Start) {
		errs = append(errs, errors.New("end is before start"))
	}
	if in.IndicatorValidity < 0 {
		errs = append(errs, errors.New("indicator validity is negative"))
	}
	if in.Requests < 0 || in.PeakRate < 0 || math.IsNaN(in.PeakRate) || math.IsInf(in.PeakRate, 0) {
		errs = append(errs, errors.New("requests and peak rate must be finite and non-negative"))
	}
	return errors.Join(errs...)
}

// normalizeSources checks every source, fills missing times from the
// episode, and sorts by address so that input order never changes the bytes.
func normalizeSources(in EpisodeInput) ([]Source, error) {
	out := make([]Source, len(in.Sources))
	var errs []error
	for i, s := range in.Sources {
		if !s.Addr.IsValid() {
			errs = append(errs, fmt.Errorf("source %d: invalid address", i))
			continue
		}
		// Zones are host-local and mean nothing to a partner; IPv4-mapped
		// IPv6 is the same host as its IPv4 form.
		s.Addr = s.Addr.WithZone("").Unmap()
		if s.FirstSeen.IsZero() {
			s.FirstSeen = in.Start
		}
		if s.LastSeen.IsZero() {
			s.LastSeen = in.End
		}
		if s.LastSeen.Before(s.FirstSeen) {
			errs = append(errs, fmt.Errorf("source %s: last seen before first seen", s.Addr))
		}
		if s.Requests < 0 {
			errs = append(errs, fmt.Errorf("source %s: negative request count", s.Addr))
		}
		if math.IsNaN(s.Confidence) || s.Confidence < 0 || s.Confidence > 1 {
			errs = append(errs, fmt.Errorf("source %s: confidence %v outside 0..1", s.Addr, s.Confidence))
		}
		out[i] = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(out, func(a, b Source) int { return a.Addr.Compare(b.Addr) })
	for i := 1; i < len(out); i++ {
		if out[i].Addr == out[i-1].Addr {
			// Two attributions for one address would give two objects the
			// same deterministic identifier; the caller must merge them.
			return nil, fmt.Errorf("source %s: listed twice", out[i].Addr)
		}
	}
	return out, nil
}

func incidentDescription(in EpisodeInput, nSources int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Denial-of-service episode %s against %s, from %s to %s: %d requests, peak %s requests/s, %d source addresses.",
		in.EpisodeID, in.Producer,
		TS(in.Start).Format(TimestampLayout), TS(in.End).Format(TimestampLayout),
		in.Requests, strconv.FormatFloat(in.PeakRate, 'f', 1, 64), nSources)
	if in.CaseRef != "" {
		fmt.Fprintf(&sb, " Case reference: %s.", in.CaseRef)
	}
	sb.WriteString(" Caveat: the country and network given for an address describe where the address is registered or routed," +
		" not where the attacker is; attack traffic is commonly relayed through compromised machines, proxies and rented servers.")
	return sb.String()
}

// builder carries what every object of one episode shares.
type builder struct {
	marks      []string // the episode's TLP marking
	publicMark []string // TLP:CLEAR, for catalogue objects
	author     string
	episode    string
	start, end Timestamp
}

// catalogue returns common properties for objects whose content is fixed by
// this package and shared by every episode (the producer identity, the
// attack patterns). They are marked TLP:CLEAR, not with the episode's level:
// their content is public, and one identifier and version must have one
// content, whichever episode and TLP it was exported with.
func (b *builder) catalogue(typ, id string) Common {
	return Common{Type: typ, SpecVersion: SpecVersion, ID: id, CreatedByRef: b.author,
		Created: TS(catalogueEpoch), Modified: TS(catalogueEpoch), ObjectMarkingRefs: b.publicMark}
}

// episodic returns common properties for objects describing the episode:
// created when it began, modified when it ended.
func (b *builder) episodic(typ, id string) Common {
	return Common{Type: typ, SpecVersion: SpecVersion, ID: id, CreatedByRef: b.author,
		Created: b.start, Modified: b.end, ObjectMarkingRefs: b.marks}
}

// observable returns common properties for a cyber-observable, which has no
// author, timestamps or confidence of its own.
func (b *builder) observable(typ, id string) Common {
	return Common{Type: typ, SpecVersion: SpecVersion, ID: id, ObjectMarkingRefs: b.marks}
}

func (b *builder) relationship(kind, src, dst, desc string) Relationship {
	return Relationship{
		Common:           b.episodic("relationship", stableID("relationship", b.episode, kind, src, dst)),
		RelationshipType: kind,
		Description:      desc,
		SourceRef:        src,
		TargetRef:        dst,
	}
}

func (b *builder) appendSource(objs []Object, s Source, in EpisodeInput, identityID, incidentID, patternID, asRef string, validity time.Duration) []Object {
	addr := s.Addr.String()
	var addrObj Object
	var addrID, scoType string
	if s.Addr.Is4() {
		scoType = "ipv4-addr"
		addrID = addrSCOID(scoType, addr)
		addrObj = IPv4Addr{Common: b.observable(scoType, addrID), Value: addr}
	} else {
		scoType = "ipv6-addr"
		addrID = addrSCOID(scoType, addr)
		addrObj = IPv6Addr{Common: b.observable(scoType, addrID), Value: addr}
	}
	objs = append(objs, addrObj)

	refs := []string{addrID}
	if asRef != "" {
		belongs := b.relationship("belongs-to", addrID, asRef, "")
		objs = append(objs, belongs)
		refs = append(refs, asRef, belongs.ID)
	}

	obs := ObservedData{
		Common:         b.episodic("observed-data", stableID("observed-data", in.EpisodeID, addr)),
		FirstObserved:  TS(s.FirstSeen),
		LastObserved:   TS(s.LastSeen),
		NumberObserved: clampCount(s.Requests, 1),
		ObjectRefs:     refs,
	}
	objs = append(objs, obs)

	confidence := int(math.Round(s.Confidence * 100))
	ind := IndicatorObject{
		Common:         b.episodic("indicator", stableID("indicator", in.EpisodeID, addr)),
		Name:           "Denial-of-service source " + addr,
		Description:    sourceDescription(s, in),
		IndicatorTypes: []string{"malicious-activity"},
		Pattern:        "[" + scoType + ":value = '" + addr + "']",
		PatternType:    "stix",
		ValidFrom:      TS(s.FirstSeen),
		ValidUntil:     TS(s.LastSeen.Add(validity)),
	}
	ind.Confidence = &confidence
	if s.Class != "" {
		ind.Labels = []string{s.Class}
	}
	objs = append(objs, ind,
		b.relationship("indicates", ind.ID, patternID, ""),
		b.relationship("related-to", ind.ID, incidentID, "Source address of the episode."))

	count := clampCount(s.Requests, 0)
	objs = append(objs, Sighting{
		Common:           b.episodic("sighting", stableID("sighting", in.EpisodeID, ind.ID, identityID)),
		FirstSeen:        TS(s.FirstSeen),
		LastSeen:         TS(s.LastSeen),
		Count:            &count,
		SightingOfRef:    ind.ID,
		ObservedDataRefs: []string{obs.ID},
		WhereSightedRefs: []string{identityID},
	})
	return objs
}

func sourceDescription(s Source, in EpisodeInput) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s sent %d requests during episode %s", s.Addr, s.Requests, in.EpisodeID)
	if s.ASN != 0 {
		fmt.Fprintf(&sb, " from AS%d", s.ASN)
		if s.ASName != "" {
			fmt.Fprintf(&sb, " (%s)", s.ASName)
		}
	}
	sb.WriteString(".")
	if s.Country != "" {
		fmt.Fprintf(&sb, " Address registered or located in %s, which says nothing of the attacker's own location.", s.Country)
	}
	if s.Class != "" {
		fmt.Fprintf(&sb, " Network class: %s.", s.Class)
	}
	return sb.String()
}

func clampCount(n, lo int64) int64 {
	return min(max(n, lo), maxCount)
}

// addrSCOID is the STIX deterministic identifier of an address observable:
// UUIDv5 in the STIX namespace over the canonical JSON of its
// id-contributing property, {"value":"..."}. Addresses need no JSON
// escaping, so the canonical form is built directly.
func addrSCOID(typ, value string) string {
	name := make([]byte, 0, len(value)+12)
	name = append(name, `{"value":"`...)
	name = append(name, value...)
	name = append(name, `"}`...)
	return typ + "--" + uuidV5(scoNamespace, name).String()
}

// asID is the deterministic identifier of an autonomous-system observable,
// whose id-contributing property is its number.
func asID(n uint32) string {
	name := strconv.AppendUint([]byte(`{"number":`), uint64(n), 10)
	name = append(name, '}')
	return "autonomous-system--" + uuidV5(scoNamespace, name).String()
}
