package export

import (
	"fmt"
	"strings"
	"time"

	"preau/internal/evidence/attrib"
)

func mdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (e *exporter) writeReadmes(md metadata) error {
	if err := writeFile(e.tmp, fileReadmeFR, []byte(readmeFR(md))); err != nil {
		return err
	}
	return writeFile(e.tmp, fileReadmeEN, []byte(readmeEN(md)))
}

func leftOut(md metadata) int64 {
	var n int64
	for _, v := range md.LeftOut.Records {
		n += v
	}
	return n
}

func readmeFR(md metadata) string {
	var b strings.Builder
	ep := md.Episode
	entries := fileEntries
	if md.Pseudonym.Enabled {
		entries = fileLeaves
	}
	fmt.Fprintf(&b, "# Paquet de preuves Préau — épisode %s\n\n", ep.ID)
	fmt.Fprintf(&b, "**TLP:%s**", strings.ToUpper(md.TLP))
	if md.Case != "" {
		fmt.Fprintf(&b, " — référence de l'affaire : **%s**", md.Case)
	}
	b.WriteString("\n\n## De quoi s'agit-il\n\n")
	fmt.Fprintf(&b, "Ce dossier contient les preuves, enregistrées par le bouclier anti-déni de service Préau de %s, "+
		"d'un épisode d'attaque par saturation (%s). Les enregistrements sont extraits tels quels de journaux "+
		"infalsifiables (arbres de Merkle RFC 6962, points de contrôle signés Ed25519) et chacun est accompagné "+
		"de la preuve qu'il figure dans un point de contrôle signé. Exporté le %s par Préau %s.\n\n",
		md.Producer, ep.Kind, mdTime(md.ExportedAt), md.Version)
	b.WriteString("## Fenêtre de l'épisode (UTC)\n\n")
	fmt.Fprintf(&b, "- début : %s\n- fin : %s", mdTime(ep.Start), mdTime(ep.End))
	if ep.Open {
		b.WriteString(" (épisode encore ouvert lors de l'export : dernier enregistrement)")
	}
	fmt.Fprintf(&b, "\n- pic : %.1f requêtes/s ; %d requêtes ; niveau maximal : %s\n\n", ep.PeakRate, ep.Requests, ep.MaxLevel)
	b.WriteString("Toutes les heures sont en UTC. Les enregistrements de source d'horloge trouvés sont listés dans metadata.json (`clock_records`).\n\n")
	if n := leftOut(md); n > 0 {
		fmt.Fprintf(&b, "**%d enregistrements de l'épisode ne sont pas inclus** : ils étaient plus récents que le dernier point de contrôle signé "+
			"de leur segment au moment de l'export (metadata.json, `left_out`). Un export ultérieur les inclut.\n\n", n)
	}
	b.WriteString("## Contenu\n\n")
	fmt.Fprintf(&b, "- `metadata.json` : fenêtre, affaire, TLP, horloge, jeux de données, options, comptes\n")
	if md.Pseudonym.Enabled {
		fmt.Fprintf(&b, "- `%s` : empreintes (hash de feuille) des enregistrements de l'épisode, sans les enregistrements eux-mêmes\n", entries)
	} else {
		fmt.Fprintf(&b, "- `%s` : les enregistrements de l'épisode, octet pour octet (`record`), avec leur flux, segment, index et hash de feuille\n", entries)
	}
	b.WriteString("- `proofs.jsonl` : preuves d'inclusion, une ligne par suite d'enregistrements consécutifs\n" +
		"- `checkpoints/` : point de contrôle signé de chaque segment (`<flux>-<AAAA-MM>.txt`) et clés de vérification (`verifier.key`)\n" +
		"- `episodes.csv`, `sources.csv` : l'épisode et ses adresses sources\n" +
		"- `stix-bundle.json` : le même épisode en STIX 2.1\n" +
		"- `report.html` : rapport lisible, sans script ni ressource externe\n" +
		"- `signer.pem`, `MANIFEST.sha256`, `MANIFEST.sha256.sig` : clé publique, manifeste et sa signature\n\n")
	b.WriteString("## Vérifier\n\n")
	b.WriteString("Avec Préau :\n\n    preau evidence verify DOSSIER\n\n" +
		"vérifie tout : empreintes du manifeste, absence de fichier non listé, signature du manifeste, signatures des points de contrôle, " +
		"preuve d'inclusion de chaque enregistrement, appartenance des enregistrements à l'épisode, cohérence des CSV et du STIX.\n\n")
	b.WriteString("À la main, dans le dossier :\n\n" +
		"    sha256sum -c MANIFEST.sha256\n" +
		"    openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig\n\n" +
		"La seconde commande (OpenSSL 3.0 ou plus récent) doit afficher `Signature Verified Successfully`. " +
		"Une signature n'a de valeur que si la clé est la bonne : comparez l'empreinte SHA-256 de la clé publique, ")
	fmt.Fprintf(&b, "`%s`, à celle que l'établissement vous a communiquée par un autre canal.\n\n", md.Signer.Fingerprint)
	b.WriteString("Le hash de feuille d'un enregistrement est SHA-256(0x00 ‖ enregistrement), en base64 (RFC 6962). " +
		"Les points de contrôle sont des notes signées au format C2SP tlog-checkpoint, vérifiables avec `golang.org/x/mod/sumdb/note` " +
		"et la clé de `checkpoints/verifier.key`. Chaque ligne de `proofs.jsonl` donne, pour une suite de feuilles [first, first+count), " +
		"les chemins d'audit RFC 6962 de la première (`first_proof`) et de la dernière (`last_proof`) feuille ; les feuilles intermédiaires " +
		"se vérifient en recalculant la racine de l'arbre à partir de toutes les feuilles de la suite et des hashes de ces deux chemins.\n\n")
	b.WriteString("## Avertissement\n\n" + attrib.CaveatFR + "\n\n")
	if md.Pseudonym.Enabled {
		b.WriteString("## Pseudonymisation\n\n" +
			"Les adresses sont remplacées, dans les CSV, le STIX et le rapport, par les 96 premiers bits de HMAC-SHA256(clé, adresse) " +
			"(`anon-…` ; dans le STIX, les mêmes bits sous le préfixe de documentation 2001:db8::/32). Le système autonome et le pays sont conservés. " +
			"La clé n'est pas dans le paquet : l'établissement peut, sur réquisition, confirmer le pseudonyme d'une adresse donnée. " +
			"`entries.jsonl`, qui contiendrait les enregistrements d'origine et donc les adresses, est omis ; `leaves.jsonl` en garde les hashes, " +
			"qui restent prouvés contre les points de contrôle : les enregistrements pourront être produits plus tard et vérifiés contre ces hashes. " +
			"Compromis : sans les enregistrements, l'appartenance à l'épisode et la cohérence des CSV ne peuvent pas être vérifiées hors ligne, " +
			"et l'AS et le pays conservés peuvent, pour un petit réseau, restreindre beaucoup les adresses possibles.\n\n")
	}
	if md.Raw {
		b.WriteString("## Requêtes brutes\n\nLes enregistrements de chaque requête de l'épisode (flux `requests`) sont inclus.\n")
	} else {
		b.WriteString("## Requêtes brutes\n\nNon incluses : le paquet contient les agrégats par minute et par source (flux `sources`) et les résumés par seconde (flux `events`).\n")
	}
	return b.String()
}

func readmeEN(md metadata) string {
	var b strings.Builder
	ep := md.Episode
	entries := fileEntries
	if md.Pseudonym.Enabled {
		entries = fileLeaves
	}
	fmt.Fprintf(&b, "# Préau evidence package — episode %s\n\n", ep.ID)
	fmt.Fprintf(&b, "**TLP:%s**", strings.ToUpper(md.TLP))
	if md.Case != "" {
		fmt.Fprintf(&b, " — case reference: **%s**", md.Case)
	}
	b.WriteString("\n\n## What this is\n\n")
	fmt.Fprintf(&b, "This directory holds the evidence, recorded by the Préau denial-of-service shield of %s, "+
		"of one flood episode (%s). The records are copied unchanged from tamper-evident logs (RFC 6962 Merkle trees, "+
		"Ed25519-signed checkpoints), each with the proof that it is in a signed checkpoint. Exported on %s by Préau %s.\n\n",
		md.Producer, ep.Kind, mdTime(md.ExportedAt), md.Version)
	b.WriteString("## Episode window (UTC)\n\n")
	fmt.Fprintf(&b, "- start: %s\n- end: %s", mdTime(ep.Start), mdTime(ep.End))
	if ep.Open {
		b.WriteString(" (episode still open at export: latest record)")
	}
	fmt.Fprintf(&b, "\n- peak: %.1f requests/s; %d requests; max level: %s\n\n", ep.PeakRate, ep.Requests, ep.MaxLevel)
	b.WriteString("All times are UTC. The clock source records found are listed in metadata.json (`clock_records`).\n\n")
	if n := leftOut(md); n > 0 {
		fmt.Fprintf(&b, "**%d records of the episode are not included**: they were newer than the latest signed checkpoint "+
			"of their segment at export time (metadata.json, `left_out`). A later export includes them.\n\n", n)
	}
	b.WriteString("## Contents\n\n- `metadata.json`: window, case, TLP, clock, datasets, options, counts\n")
	if md.Pseudonym.Enabled {
		fmt.Fprintf(&b, "- `%s`: leaf hashes of the episode's records, without the records\n", entries)
	} else {
		fmt.Fprintf(&b, "- `%s`: the episode's records byte for byte (`record`), with stream, segment, index and leaf hash\n", entries)
	}
	b.WriteString("- `proofs.jsonl`: inclusion proofs, one line per run of consecutive records\n" +
		"- `checkpoints/`: each segment's signed checkpoint (`<stream>-<YYYY-MM>.txt`) and verifier keys (`verifier.key`)\n" +
		"- `episodes.csv`, `sources.csv`: the episode and its source addresses\n" +
		"- `stix-bundle.json`: the same episode as STIX 2.1\n" +
		"- `report.html`: readable report, no script or external resource\n" +
		"- `signer.pem`, `MANIFEST.sha256`, `MANIFEST.sha256.sig`: public key, manifest and its signature\n\n")
	b.WriteString("## How to verify\n\nWith Préau:\n\n    preau evidence verify DIR\n\n" +
		"checks everything: manifest hashes, no unlisted file, manifest signature, checkpoint signatures, every record's inclusion proof, " +
		"that every record belongs to the episode, and that the CSVs and the STIX bundle agree with the records.\n\n")
	b.WriteString("By hand, inside the directory:\n\n" +
		"    sha256sum -c MANIFEST.sha256\n" +
		"    openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig\n\n" +
		"The second command (OpenSSL 3.0 or later) must print `Signature Verified Successfully`. " +
		"A signature is only worth its key: compare the public key's SHA-256 fingerprint, ")
	fmt.Fprintf(&b, "`%s`, with the one the school gave you through another channel.\n\n", md.Signer.Fingerprint)
	b.WriteString("A record's leaf hash is SHA-256(0x00 || record), base64 (RFC 6962). Checkpoints are signed notes in the C2SP " +
		"tlog-checkpoint layout, verifiable with `golang.org/x/mod/sumdb/note` and the key in `checkpoints/verifier.key`. " +
		"Each line of `proofs.jsonl` gives, for a run of leaves [first, first+count), the RFC 6962 audit paths of its first " +
		"(`first_proof`) and last (`last_proof`) leaves; the leaves in between are checked by recomputing the tree root from all " +
		"the run's leaves and the hashes of those two paths.\n\n")
	b.WriteString("## Caveat\n\n" + attrib.Caveat + "\n\n")
	if md.Pseudonym.Enabled {
		b.WriteString("## Pseudonymisation\n\n" +
			"In the CSVs, the STIX bundle and the report, addresses are replaced by the first 96 bits of HMAC-SHA256(key, address) " +
			"(`anon-…`; in STIX, the same bits under the documentation prefix 2001:db8::/32). Autonomous system and country are kept. " +
			"The key is not in the package: on a lawful request the school can confirm the pseudonym of a given address. " +
			"`entries.jsonl`, which would hold the original records and so the addresses, is left out; `leaves.jsonl` keeps their hashes, " +
			"still proven against the checkpoints, so the records can be produced later and checked against them. " +
			"Trade-off: without the records, membership in the episode and the CSVs' consistency cannot be checked offline, " +
			"and the kept AS and country can, for a small network, narrow the possible addresses a lot.\n\n")
	}
	if md.Raw {
		b.WriteString("## Raw requests\n\nThe record of every request of the episode (stream `requests`) is included.\n")
	} else {
		b.WriteString("## Raw requests\n\nNot included: the package holds the per-minute, per-source aggregates (stream `sources`) and the per-second summaries (stream `events`).\n")
	}
	return b.String()
}
