package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// SMTP is notify_smtp in hookflow.yaml: the server email notices go through.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// StartTLS upgrades the connection before anything is sent, and fails
	// when the server does not offer it: never a plain fallback.
	StartTLS bool
	// RootCAs check the server's certificate; nil: the system's.
	RootCAs *x509.CertPool
}

// SendMail mails m to m.To through cfg. A 4xx answer of the server is
// retryable, a 5xx one permanent.
func SendMail(ctx context.Context, cfg SMTP, m *Message) error {
	msg, err := message(cfg.From, m, time.Now())
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &Error{Err: fmt.Errorf("smtp %s: %w", addr, err)}
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return smtpError(addr, err)
	}
	defer c.Close()
	if err := c.Hello("hookflow"); err != nil {
		return smtpError(addr, err)
	}
	if cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &Error{Permanent: true, Err: fmt.Errorf("smtp %s: the server does not offer STARTTLS, and notify_smtp asks for it", addr)}
		}
		if err := c.StartTLS(&tls.Config{ServerName: cfg.Host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpError(addr, err)
		}
	}
	if cfg.Username != "" {
		// PlainAuth itself refuses to send the password unencrypted to any
		// host but localhost.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return smtpError(addr, err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return smtpError(addr, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return smtpError(addr, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError(addr, err)
	}
	if err := w.Close(); err != nil {
		return smtpError(addr, err)
	}
	return c.Quit()
}

// smtpError classifies a server's answer: 5xx is permanent, anything else
// (4xx, a broken connection) worth another attempt.
func smtpError(addr string, err error) error {
	var te *textproto.Error
	permanent := errors.As(err, &te) && te.Code >= 500
	var ue *tls.CertificateVerificationError
	if errors.As(err, &ue) || strings.Contains(err.Error(), "unencrypted connection") {
		permanent = true
	}
	return &Error{Permanent: permanent, Err: fmt.Errorf("smtp %s: %w", addr, err)}
}

// message is m as an RFC 5322 message, its text quoted-printable.
func message(from string, m *Message, now time.Time) ([]byte, error) {
	subject := m.Subject
	if subject == "" {
		subject = "[hookflow] " + headline(m)
	}
	if len(m.To) == 0 {
		return nil, errors.New("email: no recipient")
	}
	for _, v := range append([]string{from, subject}, m.To...) {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("email: a header may not hold a line break")
		}
	}
	id := make([]byte, 12)
	rand.Read(id)
	domain := "hookflow"
	if _, d, ok := strings.Cut(from, "@"); ok {
		domain = strings.Trim(d, "<> ")
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	var text strings.Builder
	fmt.Fprintf(&text, "%s.\n\n", headline(m))
	if m.Reason != "" {
		fmt.Fprintf(&text, "Reason: %s\n", m.Reason)
	}
	if m.FailedStep != "" {
		fmt.Fprintf(&text, "Failed step: %s\n", m.FailedStep)
	}
	fmt.Fprintf(&text, "Run: %s\n", m.RunURL)
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(text.String(), "\n", "\r\n")))
	qp.Close()
	return b.Bytes(), nil
}
