// Package smtptest is a real SMTP server for tests, on 127.0.0.1: enough
// of RFC 5321 for a client such as net/smtp (EHLO, STARTTLS with a
// certificate made at start, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
// QUIT), recording every message it accepts.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mail is one accepted message.
type Mail struct {
	From string
	To   []string
	Data []byte
	// TLS: the message came over a connection STARTTLS had upgraded; User
	// is who authenticated ("" for nobody).
	TLS  bool
	User string
}

// Options change how the server behaves.
type Options struct {
	// NoStartTLS leaves STARTTLS out of the EHLO answer.
	NoStartTLS bool
	// User and Password, when set, are the one login AUTH PLAIN accepts,
	// and mail is refused without it.
	User, Password string
	// RcptReply, when set, answers every RCPT with it (e.g. "451 4.3.0 try
	// later" or "550 5.1.1 no such user").
	RcptReply string
}

// Server is a running SMTP server.
type Server struct {
	opts Options
	ln   net.Listener
	tls  *tls.Config
	pem  []byte
	pool *x509.CertPool

	mu    sync.Mutex
	mails []Mail
	wg    sync.WaitGroup
}

// Start starts a server on 127.0.0.1, stopped when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, pemBytes, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{opts: opts, ln: ln, pem: pemBytes, pool: x509.NewCertPool(),
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	s.pool.AppendCertsFromPEM(pemBytes)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Addr is where the server listens.
func (s *Server) Addr() (host string, port int) {
	a := s.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

// CertPEM is the server's certificate (its own CA), PEM-encoded; CertPool
// holds it.
func (s *Server) CertPEM() []byte          { return s.pem }
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Mails returns the messages accepted so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait returns the messages once there are at least n, failing the test
// after 30 seconds without.
func (s *Server) Wait(t testing.TB, n int) []Mail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: %d mails after 30s, want %d", len(s.Mails()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			s.session(c)
		}()
	}
}

// session speaks SMTP on one connection until QUIT or an error.
func (s *Server) session(c net.Conn) {
	tp := textproto.NewConn(c)
	var (
		secure bool
		user   string
		from   string
		to     []string
	)
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	if !reply("220 smtptest ready") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"smtptest"}
			if !secure && !s.opts.NoStartTLS {
				lines = append(lines, "STARTTLS")
			}
			if secure || s.opts.NoStartTLS {
				lines = append(lines, "AUTH PLAIN")
			}
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				reply("250%s%s", sep, l)
			}
		case "STARTTLS":
			if secure || s.opts.NoStartTLS {
				reply("503 5.5.1 not now")
				continue
			}
			reply("220 2.0.0 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, secure = tc, true
			tp = textproto.NewConn(c)
			from, to, user = "", nil, ""
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 only PLAIN")
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.opts.User || parts[2] != s.opts.Password || s.opts.User == "" {
				reply("535 5.7.8 authentication failed")
				continue
			}
			user = parts[1]
			reply("235 2.7.0 authenticated")
		case "MAIL":
			if s.opts.User != "" && user == "" {
				reply("530 5.7.0 authentication required")
				continue
			}
			from, to = address(arg), nil
			reply("250 2.1.0 ok")
		case "RCPT":
			if s.opts.RcptReply != "" {
				reply("%s", s.opts.RcptReply)
				continue
			}
			to = append(to, address(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if from == "" || len(to) == 0 {
				reply("503 5.5.1 MAIL and RCPT first")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.mails = append(s.mails, Mail{From: from, To: to, Data: bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), TLS: secure, User: user})
			s.mu.Unlock()
			from, to = "", nil
			reply("250 2.0.0 queued")
		case "RSET":
			from, to = "", nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 not implemented")
		}
	}
}

// address is the address inside "FROM:<a@b> SIZE=1" or "TO:<a@b>".
func address(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}

// selfSigned makes a certificate for 127.0.0.1 and localhost that is its
// own authority.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtptest: certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes, nil
}
