package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 9, 8, 15, 0, 123456789, time.UTC)

// newEpisode returns a small valid episode; tests change what they need.
func newEpisode(tb testing.TB, nSources int) EpisodeInput {
	tb.Helper()
	in := EpisodeInput{
		Producer:  "Lycée Jean Moulin — Préau",
		CaseRef:   "PJ-2026-0042",
		TLP:       "amber",
		EpisodeID: "ep-2026-03-09-01",
		Start:     t0,
		End:       t0.Add(40 * time.Minute),
		PeakRate:  1834.5,
		Requests:  2_500_000,
		Kind:      "http_flood",
	}
	for i := range nSources {
		var a netip.Addr
		if i%5 == 4 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		} else {
			a = netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
		}
		in.Sources = append(in.Sources, Source{
			Addr:       a,
			FirstSeen:  t0.Add(time.Duration(i%60) * time.Second),
			LastSeen:   t0.Add(30 * time.Minute),
			Requests:   int64(1000 + i),
			ASN:        uint32(64496 + i%7),
			ASName:     fmt.Sprintf("EXAMPLE-NET-%d", i%7),
			Country:    "NL",
			Class:      "hosting",
			Confidence: 0.8,
		})
	}
	return in
}

func mustBuild(tb testing.TB, in EpisodeInput) []byte {
	tb.Helper()
	b, err := BuildEpisodeBundle(in)
	if err != nil {
		tb.Fatalf("BuildEpisodeBundle: %v", err)
	}
	out, err := json.Marshal(b)
	if err != nil {
		tb.Fatalf("marshal bundle: %v", err)
	}
	return out
}

func TestDeterministicIDsFollowSTIX(t *testing.T) {
	// 198.51.100.3 is the STIX 2.1 specification's own identifier example;
	// the others match what the OASIS Python library derives.
	for _, tc := range []struct{ got, want string }{
		{addrSCOID("ipv4-addr", "198.51.100.3"), "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{addrSCOID("ipv6-addr", "2001:db8::1"), "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26"},
		{asID(15139), "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestNewIDIsRandomV4(t *testing.T) {
	a, err := NewID("note")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewID("note")
	if a == b {
		t.Error("two NewID calls returned the same id")
	}
	u, ok := parseUUID(strings.TrimPrefix(a, "note--"))
	if !ok || u[6]>>4 != 4 || !u.rfc4122Variant() {
		t.Errorf("NewID = %s, want a version 4 RFC 4122 UUID", a)
	}
	if _, err := NewID("Bad_Type"); err == nil {
		t.Error("NewID accepted an invalid type")
	}
}

func TestBuiltBundleValidates(t *testing.T) {
	for _, level := range []string{"clear", "green", "amber", "amber+strict", "red"} {
		for _, kind := range []string{"http_flood", "login_flood", "slow_connections", "tcp_flood", "something_new"} {
			in := newEpisode(t, 12)
			in.TLP, in.Kind = level, kind
			if probs := Validate(mustBuild(t, in)); len(probs) > 0 {
				t.Errorf("%s/%s: %d problems, first: %v", level, kind, len(probs), probs[0])
			}
		}
	}
}

func TestBuiltBundleIsByteIdenticalWhateverTheSourceOrder(t *testing.T) {
	in := newEpisode(t, 50)
	first := mustBuild(t, in)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(in.Sources), func(i, j int) {
		in.Sources[i], in.Sources[j] = in.Sources[j], in.Sources[i]
	})
	if second := mustBuild(t, in); !bytes.Equal(first, second) {
		t.Error("re-export of the same episode differs")
	}
}

func TestBuiltBundleContent(t *testing.T) {
	in := newEpisode(t, 0)
	in.Sources = []Source{{
		Addr: netip.MustParseAddr("203.0.113.7"), Requests: 42, ASN: 64500, ASName: "EXAMPLE",
		Country: "FR", Confidence: 0.734,
	}}
	var bundle struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(mustBuild(t, in), &bundle); err != nil {
		t.Fatal(err)
	}
	byType := map[string][]map[string]any{}
	for _, o := range bundle.Objects {
		typ := o["type"].(string)
		byType[typ] = append(byType[typ], o)
		if typ == "marking-definition" {
			continue
		}
		want := "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421" // TLP:AMBER
		if typ == "identity" || typ == "attack-pattern" {
			want = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487" // TLP:CLEAR
		}
		refs, _ := o["object_marking_refs"].([]any)
		if len(refs) != 1 || refs[0] != want {
			t.Errorf("%s is marked %v, want %s", o["id"], refs, want)
		}
	}
	for typ, n := range map[string]int{
		"marking-definition": 2, "identity": 1, "incident": 1, "attack-pattern": 1, "ipv4-addr": 1,
		"autonomous-system": 1, "observed-data": 1, "indicator": 1, "sighting": 1, "relationship": 4,
	} {
		if got := len(byType[typ]); got != n {
			t.Errorf("%d %s objects, want %d", got, typ, n)
		}
	}
	ind := byType["indicator"][0]
	if ind["pattern"] != "[ipv4-addr:value = '203.0.113.7']" || ind["pattern_type"] != "stix" {
		t.Errorf("indicator pattern = %v (%v)", ind["pattern"], ind["pattern_type"])
	}
	if ind["confidence"] != 73.0 {
		t.Errorf("indicator confidence = %v, want 73", ind["confidence"])
	}
	if ind["valid_from"] != "2026-03-09T08:15:00.123Z" || ind["valid_until"] != "2026-03-16T08:55:00.123Z" {
		t.Errorf("indicator validity = %v .. %v", ind["valid_from"], ind["valid_until"])
	}
	desc := byType["incident"][0]["description"].(string)
	for _, want := range []string{"PJ-2026-0042", "not where the attacker is"} {
		if !strings.Contains(desc, want) {
			t.Errorf("incident description lacks %q: %s", want, desc)
		}
	}
	refs := fmt.Sprint(byType["attack-pattern"][0]["external_references"])
	for _, want := range []string{"T1499.002", "CAPEC-488", "CAPEC-125"} {
		if !strings.Contains(refs, want) {
			t.Errorf("attack pattern references lack %s: %s", want, refs)
		}
	}
	md := byType["marking-definition"][1]
	if md["name"] != "TLP:AMBER" || md["created"] != "2022-10-01T00:00:00.000Z" {
		t.Errorf("marking definition = %v", md)
	}
}

func TestBuildRejectsBadEpisodes(t *testing.T) {
	tests := map[string]func(*EpisodeInput){
		"unknown TLP":        func(in *EpisodeInput) { in.TLP = "white" },
		"no producer":        func(in *EpisodeInput) { in.Producer = " " },
		"no episode id":      func(in *EpisodeInput) { in.EpisodeID = "" },
		"end before start":   func(in *EpisodeInput) { in.End = in.Start.Add(-time.Second) },
		"invalid address":    func(in *EpisodeInput) { in.Sources[0].Addr = netip.Addr{} },
		"duplicate address":  func(in *EpisodeInput) { in.Sources[1].Addr = in.Sources[0].Addr },
		"mapped duplicate":   func(in *EpisodeInput) { in.Sources[1].Addr = netip.AddrFrom16(in.Sources[0].Addr.As16()) },
		"confidence above 1": func(in *EpisodeInput) { in.Sources[0].Confidence = 1.5 },
		"last before first":  func(in *EpisodeInput) { in.Sources[0].LastSeen = in.Sources[0].FirstSeen.Add(-time.Second) },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			in := newEpisode(t, 3)
			mutate(&in)
			if _, err := BuildEpisodeBundle(in); !errors.Is(err, ErrInvalidEpisode) {
				t.Errorf("err = %v, want ErrInvalidEpisode", err)
			}
		})
	}
}

func BenchmarkBuildEpisodeBundle10k(b *testing.B) {
	in := newEpisode(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		bundle, err := BuildEpisodeBundle(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(bundle); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate10k(b *testing.B) {
	data := mustBuild(b, newEpisode(b, 10_000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if probs := Validate(data); len(probs) > 0 {
			b.Fatal(probs[0])
		}
	}
}
