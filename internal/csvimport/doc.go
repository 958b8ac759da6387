// Package csvimport turns CSV files uploaded by a school administrator into
// the rows of a [domain.Roster], with a dry-run report of every problem found.
//
// The files are untrusted. Parsing never applies anything: [ParseUsers] and
// [ParseTimetable] return the rows together with a [Report], and return the
// rows only when the report has no problem, so a file with a single bad row
// imports nothing. Content problems never come back as errors: each one is a
// [Problem] with the line it is on, the column it concerns, and a
// translation key (all listed in [Keys]) with its arguments. The error result
// is kept for I/O failures and for a file over the size limit, which wraps
// [domain.ErrTooLarge].
//
// # Both files
//
//   - Size: at most maxBytes bytes (the caller's limit) and 100,000 data rows;
//     the first row past the limit is reported and the rest is not read.
//   - Encoding: UTF-8, with or without a byte-order mark. A file that is not
//     valid UTF-8 is read as Windows-1252 (Latin-1 with the Windows
//     characters in 0x80–0x9F, such as € ’ œ), which is what Excel on a
//     French Windows writes for "CSV (séparateur: point-virgule)".
//   - Lines end in CRLF, LF or CR. Problems give the line number in the
//     file, counted from 1 (the header is line 1 unless empty lines come
//     before it); a row spanning several lines has the number of its first.
//   - Delimiter: ";" or ",", whichever appears more often in the header line
//     (";" on a tie). Fields may be quoted with double quotes as in RFC 4180,
//     which lets a field hold the delimiter or a quote written twice ("");
//     a misplaced quote is a problem on that row.
//   - Header: the first line with a non-empty field names the columns, in
//     any order.
//     Names are trimmed and compared ignoring case and French accents, so
//     "Rôle", "ROLE" and "role" are the same column. A column with an empty
//     name is ignored (Excel often adds one at the end of a line); an unknown
//     or repeated name is a problem; a missing required column is a problem
//     and stops the reading.
//   - Rows: every field is trimmed of spaces. A row whose fields are all
//     empty is skipped, whatever its number of delimiters. A row must have as
//     many fields as the header. A field may not contain control characters
//     (tabs, line breaks inside quotes…) nor the invisible marks that change
//     the direction of text.
//   - Lists are written in one field, items separated by "|", e.g.
//     "Latin|Chorale"; empty items and repeated items are dropped.
//   - Class, group, subject and room names are at most 80 characters and are
//     compared exactly (after trimming); display names at most 120.
//   - A file with a header and no data row is a problem.
//
// # Users file
//
// One account per row. Columns, by their English and French names:
//
//	role     | rôle | profil     required
//	login    | identifiant       required
//	name     | nom               required: the display name
//	class    | classe            required for students: their class
//	groups   | groupes           students: list of their groups
//	children | enfants           parents: list of their children's logins
//	teaches  | enseigne          teachers: list of CLASS_OR_GROUP:Subject
//	email    | courriel | mail   optional
//
// Roles are student or élève, parent or responsable, teacher, enseignant,
// professeur or prof, admin, administration or personnel, in any case and
// with or without accents. A login is 2 to 64 of a-z 0-9 . - _, compared
// ignoring case and unique in the file. An email has one "@" with text on
// each side, and no spaces.
//
// Columns that mean nothing for a row's role are ignored (a class on a
// parent, groups on a teacher), except children on anyone but a parent and
// teaches on anyone but a teacher, which are problems. Each child must be a
// student of the same file. In "teaches", the part before ":" is a class if
// a student of the file is in a class of that name, otherwise a group if a
// student of the file is in a group of that name, otherwise a problem; so
// "3e B:Mathématiques|Latin:Latin" is maths to class 3e B and Latin to the
// group Latin. Example:
//
//	rôle;identifiant;nom;classe;groupes;enfants;enseigne;courriel
//	élève;lea.martin;Léa Martin;3e B;Latin|Chorale;;;
//	responsable;p.martin;Paul Martin;;;lea.martin;;paul@example.org
//	professeur;m.durand;Marie Durand;;;;3e B:Mathématiques|Latin:Latin;
//	admin;cpe;Conseiller principal d'éducation;;;;;
//
// # Timetable file
//
// One weekly lesson per row. Columns, by their English and French names:
//
//	class   | classe                     required
//	day     | jour                       required
//	start   | début | debut              required
//	end     | fin                        required, after start
//	subject | matière | matiere          required
//	teacher | enseignant | professeur    optional: the teacher's login
//	room    | salle                      optional
//	group   | groupe                     optional: only this group of the class attends
//
// A day is 1 to 7 (1 is Monday, 7 Sunday), an English name or its first
// three letters (monday, mon… sunday, sun) or a French name or its first
// three letters (lundi, lun… dimanche, dim), in any case and with or without
// accents. A time is written 8:00, 08:00, 8h00, 8h or 08:00:00.
//
// Times are returned as "HH:MM" and days as [time.Weekday]. Classes, groups
// and teachers are not looked up here: the store resolves them. Example:
//
//	classe;jour;début;fin;matière;enseignant;salle;groupe
//	3e B;lundi;8h;9h;Mathématiques;m.durand;B12;
//	3e B;Mar;10:00;11:00;Latin;m.durand;;Latin
package csvimport
