package stix

import (
	"fmt"
	"strings"
	"time"
)

// TLP 2.0 levels, as written in the tlp_2_0 extension property.
const (
	TLPClear       = "clear"
	TLPGreen       = "green"
	TLPAmber       = "amber"
	TLPAmberStrict = "amber+strict"
	TLPRed         = "red"
)

// TLP20ExtensionID is the OASIS extension definition that the TLP 2.0
// marking definitions declare.
const TLP20ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// tlpLevels lists the TLP 2.0 levels from least to most restrictive, with
// the fixed identifiers published by OASIS in cti-stix-common-objects
// (extension-definition-specifications/tlp-2.0). They must match byte for
// byte: partners recognise TLP by identifier, not by name.
var tlpLevels = []struct {
	level, name, id string
}{
	{TLPClear, "TLP:CLEAR", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"},
	{TLPGreen, "TLP:GREEN", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
	{TLPAmber, "TLP:AMBER", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
	{TLPAmberStrict, "TLP:AMBER+STRICT", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"},
	{TLPRed, "TLP:RED", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"},
}

// tlp1Levels maps the STIX 2.1 built-in TLP 1.0 markings, still common in
// partner feeds, onto TLP 2.0 (WHITE became CLEAR).
var tlp1Levels = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
}

// tlpCreated is the created timestamp OASIS gives the TLP 2.0 markings.
var tlpCreated = time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)

// TLPRank orders TLP 2.0 levels: clear 0, green 1, amber 2, amber+strict 3,
// red 4. Level names are matched case-insensitively, with or without the
// "TLP:" prefix. ok is false for anything else.
func TLPRank(level string) (rank int, ok bool) {
	l := normalizeTLP(level)
	for i, t := range tlpLevels {
		if t.level == l {
			return i, true
		}
	}
	return -1, false
}

func normalizeTLP(level string) string {
	l := strings.ToLower(strings.TrimSpace(level))
	return strings.TrimPrefix(l, "tlp:")
}

// TLPMarking returns the official TLP 2.0 marking-definition object for
// level.
func TLPMarking(level string) (MarkingDefinition, error) {
	r, ok := TLPRank(level)
	if !ok {
		return MarkingDefinition{}, fmt.Errorf("stix: unknown TLP level %q", level)
	}
	t := tlpLevels[r]
	return MarkingDefinition{
		Common: Common{
			Type:        "marking-definition",
			SpecVersion: SpecVersion,
			ID:          t.id,
			Created:     TS(tlpCreated),
		},
		Name: t.name,
		Extensions: map[string]MarkingExtension{
			TLP20ExtensionID: {ExtensionType: "property-extension", TLP20: t.level},
		},
	}, nil
}

// TLPOfMarking returns the TLP 2.0 level a marking-definition identifier
// stands for, mapping the TLP 1.0 identifiers onto their 2.0 successors.
func TLPOfMarking(id string) (level string, ok bool) {
	for _, t := range tlpLevels {
		if t.id == id {
			return t.level, true
		}
	}
	l, ok := tlp1Levels[id]
	return l, ok
}

// isTLP2MarkingID reports whether id is one of the five TLP 2.0 markings.
func isTLP2MarkingID(id string) bool {
	for _, t := range tlpLevels {
		if t.id == id {
			return true
		}
	}
	return false
}
