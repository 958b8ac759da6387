package csvimport

import "strings"

// windows1252 maps the bytes 0x80–0x9F, where Windows-1252 differs from
// Latin-1, to their characters. The five bytes it leaves undefined keep
// their Latin-1 (C1 control) meaning, as in the WHATWG encoding standard.
var windows1252 = [32]rune{
	'€', '\u0081', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u008D', 'Ž', '\u008F',
	'\u0090', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u009D', 'ž', 'Ÿ',
}

// decodeWindows1252 returns data, read as Windows-1252, as UTF-8 text.
func decodeWindows1252(data []byte) string {
	var b strings.Builder
	b.Grow(len(data) + len(data)/4)
	for _, c := range data {
		switch {
		case c >= 0x80 && c <= 0x9F:
			b.WriteRune(windows1252[c-0x80])
		default:
			b.WriteRune(rune(c)) // ASCII and Latin-1 are Unicode's first 256 code points
		}
	}
	return b.String()
}
