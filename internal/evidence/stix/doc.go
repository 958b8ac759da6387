// Package stix turns Préau's recorded attack episodes into STIX 2.1 bundles
// that partner CERTs and investigators can load into their own tooling, checks
// bundles against the STIX 2.1 rules Préau relies on, and reads partners'
// indicator bundles back into address prefixes for the blocklist.
//
// The package follows the OASIS specifications:
//
//   - STIX Version 2.1 (OASIS Standard, June 2021) for object shapes, identifier
//     rules (UUIDv5 deterministic identifiers for cyber-observables) and the
//     patterning language subset read by [ParseIndicators];
//   - the OASIS "TLP 2.0" marking-definition extension
//     (extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d), whose five
//     fixed marking-definition objects are reproduced by [TLPMarking].
//
// Exports are deterministic: the same [EpisodeInput] always yields the same
// identifiers and the same bytes, so a re-export after a partner asked again
// is recognised as the same intelligence rather than new noise.
//
// Everything in the package is safe for concurrent use: it holds no mutable
// state.
package stix
