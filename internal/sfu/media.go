package sfu

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The node forwards without transcoding, so publishers and subscribers must
// share codecs: Opus for audio and VP8 for video, both mandatory to
// implement in every WebRTC browser. No RTX and no simulcast: a lost
// packet is retransmitted on its own SSRC from the node's buffer.
var (
	codecOpus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		},
		PayloadType: 111,
	}
	codecVP8 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        96,
	}
)

// videoFeedback is what the node asks of and offers to video peers: NACK,
// PLI and FIR keyframe requests.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
}

func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(codecOpus, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	vp8 := codecVP8
	vp8.RTCPFeedback = videoFeedback
	if err := m.RegisterCodec(vp8, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	return m, nil
}

// newPublisherAPI builds the API for publisher connections (media in).
// Interceptors: a NACK generator asks the publisher to resend what was
// lost on its uplink; receiver reports tell it its loss; TWCC feedback
// lets a browser's send-side bandwidth estimation adapt its encoder.
func newPublisherAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(rr)
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// newSubscriberAPI builds the API for subscriber connections (media out).
// Sender reports let browsers synchronise audio and video; the TWCC
// header extension makes browsers send transport-wide feedback, read for
// loss; goog-remb lets them send a bandwidth estimate. NACKs are answered
// by the node itself from each track's shared buffer (downtrack.go), not
// by pion's responder, whose per-stream buffer would hold a copy of every
// packet for every subscriber.
func newSubscriberAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(sr)
	for _, typ := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, typ); err != nil {
			return nil, err
		}
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, typ)
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB}, webrtc.RTPCodecTypeVideo)
	tw, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(tw)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// codecFor returns the node's codec for a kind of track.
func codecFor(k Kind) webrtc.RTPCodecCapability {
	if k.video() {
		return codecVP8.RTPCodecCapability
	}
	return codecOpus.RTPCodecCapability
}

func apiError(what string, err error) error {
	return fmt.Errorf("sfu: %s API: %w", what, err)
}
