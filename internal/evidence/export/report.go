package export

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"preau/internal/evidence/attrib"
)

// tableRows is how many rows each table of the report shows.
const tableRows = 20

type reportGroup struct {
	Key      string
	Name     string
	Sources  int
	Requests int64
	Share    string
}

type reportData struct {
	MD          metadata
	Duration    string
	Chart       template.HTML
	Buckets     string
	CaveatFR    string
	CaveatEN    string
	ASNs        []reportGroup
	Countries   []reportGroup
	Top         []topRow
	NSources    int
	Attributed  bool
	Pseudonym   bool
	EntriesFile string
	LeftOut     int64
}

// topRow is a sourceRow as the report template sees it.
type topRow struct {
	Shown           string
	First, Last     time.Time
	Requests        int64
	ASN             uint32
	ASName, Country string
	Class           string
	Confidence      float64
	Attributed      bool
}

func topRows(rows []sourceRow) []topRow {
	out := make([]topRow, len(rows))
	for i, r := range rows {
		out[i] = topRow{Shown: r.shown, First: r.first, Last: r.last, Requests: r.requests, ASN: r.asn,
			ASName: r.asName, Country: r.country, Class: r.class, Confidence: r.confidence, Attributed: r.attributed}
	}
	return out
}

// group totals requests of the sources by key, most requests first.
func group(rows []sourceRow, key func(sourceRow) (string, string, bool)) []reportGroup {
	m := map[string]*reportGroup{}
	var total int64
	for _, r := range rows {
		total += r.requests
		k, name, ok := key(r)
		if !ok {
			continue
		}
		g := m[k]
		if g == nil {
			g = &reportGroup{Key: k, Name: name}
			m[k] = g
		}
		g.Sources++
		g.Requests += r.requests
	}
	out := make([]reportGroup, 0, len(m))
	for _, g := range m {
		if total > 0 {
			g.Share = strconv.FormatFloat(100*float64(g.Requests)/float64(total), 'f', 1, 64) + " %"
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b reportGroup) int {
		if a.Requests != b.Requests {
			if a.Requests > b.Requests {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out[:min(len(out), tableRows)]
}

func (e *exporter) writeReport(md metadata, rows []sourceRow) error {
	d := reportData{
		MD:          md,
		Duration:    md.Episode.End.Sub(md.Episode.Start).Round(time.Second).String(),
		Chart:       template.HTML(e.chart.svg()),
		Buckets:     e.chart.width.String(),
		CaveatFR:    attrib.CaveatFR,
		CaveatEN:    attrib.Caveat,
		Top:         topRows(rows[:min(len(rows), tableRows)]),
		NSources:    len(rows),
		Attributed:  e.o.Attributor != nil,
		Pseudonym:   e.o.Pseudonymise != nil,
		EntriesFile: fileEntries,
		LeftOut:     e.sum.TotalLeftOut(),
	}
	if d.Pseudonym {
		d.EntriesFile = fileLeaves
	}
	d.ASNs = group(rows, func(r sourceRow) (string, string, bool) {
		if r.asn == 0 {
			return "", "", false
		}
		return "AS" + strconv.FormatUint(uint64(r.asn), 10), r.asName, true
	})
	d.Countries = group(rows, func(r sourceRow) (string, string, bool) { return r.country, "", r.country != "" })
	f, err := createFile(e.tmp, fileReport)
	if err != nil {
		return err
	}
	if err := reportTmpl.Execute(f, d); err != nil {
		f.abort()
		return fmt.Errorf("export: report: %w", err)
	}
	return f.Close()
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"rate": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"conf": func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"asn": func(n uint32) string {
		if n == 0 {
			return ""
		}
		return "AS" + strconv.FormatUint(uint64(n), 10)
	},
	"upper": strings.ToUpper,
	"sync": func(s string) string {
		switch s {
		case "yes":
			return "oui / yes"
		case "no":
			return "non / no"
		}
		return "inconnu / unknown"
	},
	"us": func(p *int64) string {
		if p == nil {
			return "—"
		}
		return strconv.FormatInt(*p, 10) + " µs"
	},
}).Parse(`<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Épisode {{.MD.Episode.ID}} — rapport de preuve / evidence report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1000px;margin:1em auto;padding:0 1em;color:#111;line-height:1.45}
.tlp{display:inline-block;background:#000;color:#ffc000;font-weight:bold;padding:.2em .6em;border-radius:3px}
.tlp.red{color:#ff2b2b}.tlp.green{color:#33ff00}.tlp.clear{color:#fff}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.en{color:#444;font-style:italic}
table{border-collapse:collapse;width:100%;margin:.6em 0}caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f0f0}.caveat{border-left:4px solid #b35806;background:#fff6ec;padding:.5em 1em}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f4f4f4;padding:0 .2em}
pre{background:#f4f4f4;padding:.6em;overflow-x:auto}
</style>
</head>
<body>
<header>
<p><span class="tlp {{.MD.TLP}}">TLP:{{upper .MD.TLP}}</span></p>
<h1>Rapport de preuve — épisode {{.MD.Episode.ID}} <span class="en" lang="en">/ Evidence report</span></h1>
<p>Produit par / produced by {{.MD.Producer}}, Préau {{.MD.Version}}, le / on {{utc .MD.ExportedAt}}.{{if .MD.Case}} Référence de l'affaire / case reference : <strong>{{.MD.Case}}</strong>.{{end}}</p>
</header>
<main>
<section aria-labelledby="h-summary">
<h2 id="h-summary">Résumé <span class="en" lang="en">/ Summary</span></h2>
<table>
<caption>L'épisode en chiffres <span class="en" lang="en">/ The episode in figures</span></caption>
<tbody>
<tr><th scope="row">Début / start (UTC)</th><td>{{utc .MD.Episode.Start}}</td></tr>
<tr><th scope="row">Fin / end (UTC)</th><td>{{utc .MD.Episode.End}}{{if .MD.Episode.Open}} (épisode encore ouvert à l'export / still open at export){{end}}</td></tr>
<tr><th scope="row">Durée / duration</th><td>{{.Duration}}</td></tr>
<tr><th scope="row">Pic / peak (requêtes/s, requests/s)</th><td class="n">{{rate .MD.Episode.PeakRate}}</td></tr>
<tr><th scope="row">Requêtes / requests</th><td class="n">{{.MD.Episode.Requests}}</td></tr>
<tr><th scope="row">Niveau maximal / max level</th><td>{{.MD.Episode.MaxLevel}}</td></tr>
<tr><th scope="row">Type / kind</th><td>{{.MD.Episode.Kind}}</td></tr>
<tr><th scope="row">Adresses sources / source addresses</th><td class="n">{{.NSources}}</td></tr>
<tr><th scope="row">Pseudonymisation</th><td>{{if .Pseudonym}}oui / yes — les adresses sont remplacées par des pseudonymes / addresses are replaced by pseudonyms{{else}}non / no{{end}}</td></tr>
<tr><th scope="row">Requêtes brutes / raw requests</th><td>{{if .MD.Raw}}incluses / included{{else}}non incluses (agrégats seulement) / not included (aggregates only){{end}}</td></tr>
{{if .LeftOut}}<tr><th scope="row">Enregistrements non inclus / records left out</th><td class="n">{{.LeftOut}} (plus récents que le dernier point de contrôle signé à l'export / newer than the latest signed checkpoint at export)</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="h-timeline">
<h2 id="h-timeline">Chronologie <span class="en" lang="en">/ Timeline</span></h2>
<p>Requêtes par seconde, moyennées par tranche de {{.Buckets}}, d'après les résumés de décision enregistrés chaque seconde.
<span class="en" lang="en">Requests per second, averaged per {{.Buckets}} bucket, from the per-second decision summaries.</span>
Légitimes = membres, personnel, liste d'autorisation ; attaque admise = requêtes anonymes admises au-delà ; bloquées ou refusées = bloquées, limitées, défiées, mises en file ou délestées.</p>
<figure>
{{.Chart}}
</figure>
</section>

<section aria-labelledby="h-caveat">
<h2 id="h-caveat">Avertissement sur l'attribution <span class="en" lang="en">/ Attribution caveat</span></h2>
<div class="caveat">
<p>{{.CaveatFR}}</p>
<p lang="en">{{.CaveatEN}}</p>
{{if not .Attributed}}<p>Aucun jeu de données d'attribution n'était configuré : les colonnes AS et pays sont vides. <span lang="en">No attribution dataset was configured: AS and country columns are empty.</span></p>{{end}}
</div>
</section>

<section aria-labelledby="h-asn">
<h2 id="h-asn">Principaux systèmes autonomes <span class="en" lang="en">/ Top autonomous systems</span></h2>
<table>
<caption>Requêtes par système autonome (AS) d'origine apparente <span class="en" lang="en">/ Requests by apparent autonomous system</span></caption>
<thead><tr><th scope="col">AS</th><th scope="col">Nom / name</th><th scope="col">Sources</th><th scope="col">Requêtes / requests</th><th scope="col">Part / share</th></tr></thead>
<tbody>
{{range .ASNs}}<tr><td>{{.Key}}</td><td>{{.Name}}</td><td class="n">{{.Sources}}</td><td class="n">{{.Requests}}</td><td class="n">{{.Share}}</td></tr>
{{else}}<tr><td colspan="5">Aucune donnée / no data</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="h-country">
<h2 id="h-country">Principaux pays d'enregistrement <span class="en" lang="en">/ Top countries of registration</span></h2>
<p>Le pays est celui où l'adresse est enregistrée, pas celui de l'attaquant. <span class="en" lang="en">The country is where the address is registered, not where the attacker is.</span></p>
<table>
<caption>Requêtes par pays d'enregistrement des adresses <span class="en" lang="en">/ Requests by the addresses' country of registration</span></caption>
<thead><tr><th scope="col">Pays / country</th><th scope="col">Sources</th><th scope="col">Requêtes / requests</th><th scope="col">Part / share</th></tr></thead>
<tbody>
{{range .Countries}}<tr><td>{{.Key}}</td><td class="n">{{.Sources}}</td><td class="n">{{.Requests}}</td><td class="n">{{.Share}}</td></tr>
{{else}}<tr><td colspan="4">Aucune donnée / no data</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="h-sources">
<h2 id="h-sources">Principales sources <span class="en" lang="en">/ Top sources</span></h2>
<table>
<caption>Les {{len .Top}} adresses ayant envoyé le plus de requêtes (liste complète : sources.csv) <span class="en" lang="en">/ The {{len .Top}} addresses that sent the most requests (full list: sources.csv)</span></caption>
<thead><tr><th scope="col">Adresse / address</th><th scope="col">Requêtes / requests</th><th scope="col">Première / first (UTC)</th><th scope="col">Dernière / last (UTC)</th><th scope="col">AS</th><th scope="col">Pays / country</th><th scope="col">Classe / class</th><th scope="col">Confiance / confidence</th></tr></thead>
<tbody>
{{range .Top}}<tr><td><code>{{.Shown}}</code></td><td class="n">{{.Requests}}</td><td>{{utc .First}}</td><td>{{utc .Last}}</td><td>{{asn .ASN}} {{.ASName}}</td><td>{{.Country}}</td><td>{{.Class}}</td><td class="n">{{if .Attributed}}{{conf .Confidence}}{{end}}</td></tr>
{{else}}<tr><td colspan="8">Aucune source enregistrée / no source recorded</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="h-clock">
<h2 id="h-clock">Horloge <span class="en" lang="en">/ Clock</span></h2>
<table>
<caption>Enregistrements de source d'horloge inclus <span class="en" lang="en">/ Clock source records included</span></caption>
<thead><tr><th scope="col">Heure / time (UTC)</th><th scope="col">Source</th><th scope="col">Synchronisée / synchronised</th><th scope="col">Erreur maximale / maximum error</th><th scope="col">Hôte / host</th></tr></thead>
<tbody>
{{range .MD.Clock}}<tr><td>{{utc .Time}}</td><td>{{.Source}}</td><td>{{sync .TimeSync}}</td><td class="n">{{us .MaxErrorUS}}</td><td>{{.Host}}</td></tr>
{{else}}<tr><td colspan="5">Aucun enregistrement d'horloge trouvé / no clock record found</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="h-verify">
<h2 id="h-verify">Vérification <span class="en" lang="en">/ Verification</span></h2>
<p>Les enregistrements ({{.EntriesFile}}) sont prouvés contre des points de contrôle signés (checkpoints/) ; le manifeste MANIFEST.sha256 est signé par la clé de signer.pem. Voir README.fr.md.
<span class="en" lang="en">The records ({{.EntriesFile}}) are proven against signed checkpoints (checkpoints/); MANIFEST.sha256 is signed by the key in signer.pem. See README.en.md.</span></p>
<pre>preau evidence verify DOSSIER
sha256sum -c MANIFEST.sha256
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig</pre>
<p>Empreinte SHA-256 de la clé publique / public key SHA-256 fingerprint : <code>{{.MD.Signer.Fingerprint}}</code></p>
</section>
</main>
</body>
</html>
`))
