package sfu

// isVP8Keyframe reports whether an RTP payload is the first packet of a
// VP8 key frame (RFC 7741): the payload descriptor's S bit set with
// partition index 0, and the P bit of the VP8 frame header clear.
func isVP8Keyframe(payload []byte) bool {
	if len(payload) < 1 {
		return false
	}
	d := payload[0]
	if d&0x10 == 0 || d&0x0f != 0 { // S bit, PID
		return false
	}
	i := 1
	if d&0x80 != 0 { // X: extension byte follows
		if len(payload) <= i {
			return false
		}
		x := payload[i]
		i++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX byte
			i++
		}
	}
	if len(payload) <= i {
		return false
	}
	return payload[i]&0x01 == 0
}
