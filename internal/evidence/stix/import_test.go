package stix

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
		err     error
	}{
		{"[ipv4-addr:value = '203.0.113.7']", []string{"203.0.113.7/32"}, nil},
		{"[ipv4-addr:value = '203.0.113.0/24']", []string{"203.0.113.0/24"}, nil},
		{"[ipv4-addr:value = '203.0.113.9/24']", []string{"203.0.113.0/24"}, nil},
		{"[ipv4-addr:value ISSUBSET '198.51.100.0/24']", []string{"198.51.100.0/24"}, nil},
		{"[ipv6-addr:value = '2001:db8::1']", []string{"2001:db8::1/128"}, nil},
		{"[ipv6-addr:value ISSUBSET '2001:db8::/32']", []string{"2001:db8::/32"}, nil},
		{"[ipv6-addr:value = '::ffff:203.0.113.7']", []string{"203.0.113.7/32"}, nil},
		{"[ipv4-addr:value = '203.0.113.7' OR ipv6-addr:value = '2001:db8::1']", []string{"203.0.113.7/32", "2001:db8::1/128"}, nil},
		{"[ipv4-addr:value = '203.0.113.7'] OR [ipv4-addr:value = '203.0.113.8']", []string{"203.0.113.7/32", "203.0.113.8/32"}, nil},
		{"([ipv4-addr:value = '203.0.113.7'] OR ([(ipv4-addr:value = '203.0.113.8')]))", []string{"203.0.113.7/32", "203.0.113.8/32"}, nil},
		{" [ ipv4-addr:value='203.0.113.7' ] ", []string{"203.0.113.7/32"}, nil},

		{"[domain-name:value = 'example.com']", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value != '203.0.113.7']", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value IN ('203.0.113.7', '203.0.113.8')]", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value = '203.0.113.7' AND ipv4-addr:value = '203.0.113.8']", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value = '203.0.113.7'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.8']", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value = '203.0.113.7'] WITHIN 300 SECONDS", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:value NOT = '203.0.113.7']", nil, ErrUnsupportedPattern},
		{"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']", nil, ErrUnsupportedPattern},
		{"[network-traffic:src_ref.value = '203.0.113.7']", nil, ErrUnsupportedPattern},
		{"[ipv4-addr:resolves_to_refs[*].value = '00:00:5e:00:53:00']", nil, ErrUnsupportedPattern},
		{strings.Repeat("(", 40) + "[ipv4-addr:value = '203.0.113.7']" + strings.Repeat(")", 40), nil, ErrUnsupportedPattern},

		{"", nil, ErrMalformedPattern},
		{"ipv4-addr:value = '203.0.113.7'", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = '203.0.113.7'", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = '203.0.113.7)", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = 203]", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = 'not an address']", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = '2001:db8::1']", nil, ErrMalformedPattern},
		{"[ipv6-addr:value = '203.0.113.7']", nil, ErrMalformedPattern},
		{"[ipv4-addr:value = '203.0.113.0/33']", nil, ErrMalformedPattern},
		{`[ipv4-addr:value = '203.0.113.7\n']`, nil, ErrMalformedPattern},
		{"[ipv4-addr:value = '203.0.113.7'] ; DROP", nil, ErrMalformedPattern},
		{"[ipv4-addr value = '203.0.113.7']", nil, ErrMalformedPattern},
	}
	for _, tc := range tests {
		got, err := ParsePattern(tc.pattern)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ParsePattern(%q) error = %v, want %v", tc.pattern, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", tc.pattern, err)
			continue
		}
		var gs []string
		for _, p := range got {
			gs = append(gs, p.String())
		}
		if !slices.Equal(gs, tc.want) {
			t.Errorf("ParsePattern(%q) = %v, want %v", tc.pattern, gs, tc.want)
		}
	}
}

func TestParseIndicatorsReadsOwnExport(t *testing.T) {
	in := newEpisode(t, 20)
	in.TLP = "green"
	now := in.End
	got, skipped, err := ParseIndicators(mustBuild(t, in), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) > 0 {
		t.Errorf("skipped %v", skipped)
	}
	want := map[netip.Prefix]bool{}
	for _, s := range in.Sources {
		want[netip.PrefixFrom(s.Addr, s.Addr.BitLen())] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d indicators, want %d", len(got), len(want))
	}
	for _, ind := range got {
		if !want[ind.Prefix] {
			t.Errorf("unexpected prefix %s", ind.Prefix)
		}
		if ind.Producer != in.Producer || ind.TLP != "green" || ind.Confidence != 80 || !slices.Equal(ind.Labels, []string{"hosting"}) {
			t.Errorf("indicator %+v", ind)
		}
		if !ind.ValidUntil.After(ind.ValidFrom) {
			t.Errorf("indicator %s validity %v..%v", ind.ID, ind.ValidFrom, ind.ValidUntil)
		}
	}
}

const partnerIdentity = `{"type":"identity","spec_version":"2.1","id":"identity--b3b4fd3e-8a8e-4bbd-9e0a-2b6f3e7a1c11","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"CERT Partenaire"}`

// partnerIndicator renders a STIX 2.1 indicator; extra is spliced in as
// additional properties.
func partnerIndicator(n int, pattern, extra string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--0000000%d-8a8e-4bbd-9e0a-2b6f3e7a1c11","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z",`+
		`"created_by_ref":"identity--b3b4fd3e-8a8e-4bbd-9e0a-2b6f3e7a1c11","pattern":%q,"pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z"%s}`, n, pattern, extra)
}

func partnerBundle(objs ...string) []byte {
	return []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + strings.Join(append([]string{partnerIdentity}, objs...), ",") + `]}`)
}

func TestParseIndicatorsFromPartner(t *testing.T) {
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	b := partnerBundle(
		partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7'] OR [ipv6-addr:value ISSUBSET '2001:db8:1::/48']",
			`,"confidence":60,"labels":["botnet"],"object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb","marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]`),
		partnerIndicator(2, "[ipv4-addr:value = '198.51.100.1']", `,"valid_until":"2026-03-05T00:00:00Z"`),
		partnerIndicator(3, "[ipv4-addr:value = '198.51.100.2']", `,"revoked":true`),
		partnerIndicator(4, "[domain-name:value = 'example.com']", ""),
		partnerIndicator(5, "alert tcp any any", `,"pattern_type":"snort"`),
		partnerIndicator(6, "[ipv4-addr:value = '10.0.0.0/8' OR ipv4-addr:value = '203.0.0.0/8' OR ipv4-addr:value = '198.51.100.0/24']", ""),
		// Two versions of one indicator: only the later one counts.
		partnerIndicator(7, "[ipv4-addr:value = '192.0.2.1']", ""),
		strings.Replace(partnerIndicator(7, "[ipv4-addr:value = '192.0.2.2']", ""), `"modified":"2026-03-01T00:00:00.000Z"`, `"modified":"2026-03-02T00:00:00.000Z"`, 1),
	)
	got, skipped, err := ParseIndicators(b, now)
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, ind := range got {
		prefixes = append(prefixes, ind.Prefix.String())
	}
	if want := []string{"203.0.113.7/32", "2001:db8:1::/48", "198.51.100.0/24", "192.0.2.2/32"}; !slices.Equal(prefixes, want) {
		t.Errorf("prefixes = %v, want %v", prefixes, want)
	}
	if first := got[0]; first.Producer != "CERT Partenaire" || first.Confidence != 60 || first.TLP != "amber" || first.Labels[0] != "botnet" {
		t.Errorf("first indicator = %+v, want producer, confidence 60, strictest TLP amber, label", first)
	}
	if got[2].Confidence != -1 || got[2].TLP != "" {
		t.Errorf("unmarked indicator without confidence = %+v", got[2])
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.ID[len("indicator--"):len("indicator--")+8]] += s.Reason + ";"
	}
	for n, want := range map[string]string{
		"00000002": "expired", "00000003": "revoked", "00000004": "unsupported pattern",
		"00000005": "pattern_type", "00000006": "not a public",
	} {
		if !strings.Contains(reasons[n], want) {
			t.Errorf("indicator %s skip reason %q, want it to mention %q", n, reasons[n], want)
		}
	}
	if !strings.Contains(reasons["00000006"], "broader than /16") {
		t.Errorf("broad prefix not skipped: %q", reasons["00000006"])
	}
}

func TestParseIndicatorsRejectsMalformed(t *testing.T) {
	tests := map[string]string{
		"bad pattern":           partnerIndicator(1, "[ipv4-addr:value = 'x']", ""),
		"unbalanced pattern":    partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7'", ""),
		"no pattern":            partnerIndicator(1, "", ""),
		"bad valid_from":        strings.Replace(partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", ""), `"valid_from":"2026-03-01T00:00:00Z"`, `"valid_from":"yesterday"`, 1),
		"until before from":     partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", `,"valid_until":"2026-02-01T00:00:00Z"`),
		"confidence 200":        partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", `,"confidence":200`),
		"missing pattern_type":  strings.Replace(partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", ""), `"pattern_type":"stix",`, "", 1),
		"labels not strings":    partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", `,"labels":[1]`),
		"id of another type":    strings.Replace(partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", ""), `"id":"indicator--`, `"id":"malware--`, 1),
		"spec_version 2.2":      strings.Replace(partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", ""), `"spec_version":"2.1"`, `"spec_version":"2.2"`, 1),
		"object not an object?": `"indicator"`,
	}
	for name, obj := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseIndicators(partnerBundle(obj), time.Now())
			if !errors.Is(err, ErrMalformedBundle) {
				t.Fatalf("err = %v, want ErrMalformedBundle", err)
			}
			if name != "object not an object?" && !strings.Contains(err.Error(), "indicator--00000001") && !strings.Contains(err.Error(), "malware--") {
				t.Errorf("error does not name the object: %v", err)
			}
		})
	}
	for _, b := range []string{"", "{}", `{"type":"report"}`, `{"type":"bundle","objects":{}}`} {
		if _, _, err := ParseIndicators([]byte(b), time.Now()); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("ParseIndicators(%q) err = %v", b, err)
		}
	}
}

func TestParseIndicatorsAcceptsSTIX20(t *testing.T) {
	b := []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","spec_version":"2.0","objects":[
	 {"type":"indicator","id":"indicator--5d0092c5-5f74-4287-9642-33f4c354e56d","created":"2026-03-01T00:00:00.000Z","modified":"2026-03-01T00:00:00.000Z",
	  "labels":["malicious-activity"],"pattern":"[ipv4-addr:value = '203.0.113.7']","valid_from":"2026-03-01T00:00:00Z"}]}`)
	got, _, err := ParseIndicators(b, time.Now())
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		"[ipv4-addr:value = '203.0.113.7']",
		"[ipv6-addr:value ISSUBSET '2001:db8::/32'] OR [ipv4-addr:value = '1.2.3.0/24']",
		"([ipv4-addr:value = '203.0.113.7' OR (ipv4-addr:value = '203.0.113.8')])",
		"[file:hashes.'SHA-256' = 'x'] AND [x:y[*].z = t'2026-01-01T00:00:00Z'] WITHIN 5 SECONDS",
		`[ipv4-addr:value = 'a\'b\\']`, "[(((", "'", "!", "-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePattern(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedPattern) && !errors.Is(err, ErrUnsupportedPattern) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if len(ps) == 0 {
			t.Fatal("no error and no prefixes")
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("prefix %v invalid or unmasked", p)
			}
		}
	})
}

func FuzzParseIndicators(f *testing.F) {
	f.Add(partnerBundle(partnerIndicator(1, "[ipv4-addr:value = '203.0.113.7']", `,"confidence":60`)))
	f.Add(partnerBundle(partnerIndicator(2, "[ipv4-addr:value = '203.0.113.7'] OR [domain-name:value = 'x']", `,"revoked":true`)))
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"marking-definition","id":"marking-definition--1","definition_type":"tlp","definition":{"tlp":"white"}}]}`))
	f.Add([]byte(`{"type":"bundle","objects":[null,{"type":"indicator"}]}`))
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, skipped, err := ParseIndicators(b, now)
		if err != nil {
			if got != nil || skipped != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		for _, ind := range got {
			if !ind.Prefix.IsValid() || unsafePrefix(ind.Prefix) != "" {
				t.Fatalf("unsafe prefix %v imported", ind.Prefix)
			}
			if !ind.ValidUntil.IsZero() && !ind.ValidUntil.After(now) {
				t.Fatalf("expired indicator %s imported", ind.ID)
			}
		}
	})
}
