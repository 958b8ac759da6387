// Package taxii serves Préau's STIX evidence to partner CERTs and
// investigators as a read-only TAXII 2.1 server (OASIS TAXII Version 2.1,
// OASIS Standard, June 2021).
//
// The server implements the discovery, API root, collections, collection,
// objects, object, manifest and versions endpoints with the
// application/taxii+json;version=2.1 media type, the added_after, limit,
// next and match[id|type|version|spec_version] parameters, and TAXII error
// messages. It never accepts writes: POST, PUT and DELETE get 405.
//
// Partners authenticate with an API key, as HTTP Basic (user name = partner
// name, password = key) or as a bearer token. Only the SHA-256 of each key
// is configured. A partner sees only its own collections, as if the others
// did not exist (404, not 403), and only objects whose TLP 2.0 level is at
// or below its ceiling; marking definitions are always visible so that
// markings can be resolved.
//
// Pagination is keyset-based, ordered by date added then id then version,
// so a page boundary never skips or repeats an object even while new
// objects arrive. The next token is an HMAC-signed cursor bound to the
// partner and the query; a tampered or replayed-elsewhere token is a 400.
package taxii
