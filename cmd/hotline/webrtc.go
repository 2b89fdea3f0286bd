package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"time"

	"github.com/hotline12345/hotline/call"
	"github.com/hotline12345/hotline/config"
	"github.com/hotline12345/hotline/media"
	"github.com/hotline12345/hotline/web"
)

// webrtcConfig is the media side of the agents' browsers; nil when turned off.
func webrtcConfig(c config.WebRTC, log *slog.Logger) *media.WebRTCConfig {
	if c.Listen == "" {
		return nil
	}
	loop := false
	if host, _, err := net.SplitHostPort(c.Listen); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
			loop = true
		}
	}
	return &media.WebRTCConfig{
		Listen: c.Listen, PublicIPs: c.PublicIPs, Loopback: loop,
		Disconnected: c.DisconnectedAfter, Logger: log,
	}
}

// softphones is the agent page's backend, or nil when WebRTC is off.
func softphones(m *call.Manager, c config.WebRTC) web.Softphones {
	if c.Listen == "" {
		return nil
	}
	return m
}

// tlsConfig loads the configured certificate, or makes a self-signed one for the
// listen address, localhost and 127.0.0.1 (valid 30 days).
func tlsConfig(h config.HTTP, selfSigned bool, addr net.Addr) (*tls.Config, error) {
	if h.TLSCert != "" && !selfSigned {
		cert, err := tls.LoadX509KeyPair(h.TLSCert, h.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("http tls: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "hotline lab", Organization: []string{"hotline (self-signed)"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ta.IP)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
