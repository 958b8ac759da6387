package signal

import (
	"strconv"
	"strings"
	"testing"
)

func BenchmarkParseChat(b *testing.B) {
	frame := []byte(`{"type":"chat","ref":"12","text":"Je n'ai pas compris la question 3, pouvez-vous répéter ?"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseLongStroke is the largest stroke allowed: 2,000 points.
func BenchmarkParseLongStroke(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"type":"stroke","color":"blue","width":3,"points":[`)
	for i := range 4000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(i * 2))
	}
	sb.WriteString(`]}`)
	frame := []byte(sb.String())
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}
