// Go crypto/tls client for the mTLS captures (stdlib only; run with `go run goclient.go`).
// Connects, optionally presents a client certificate, sends one HTTP/1.0 GET and reads the
// answer; with -twice it connects again with the same session cache so the second
// handshake resumes.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	addr := flag.String("addr", "", "host:port")
	sni := flag.String("sni", "", "server name")
	ca := flag.String("ca", "", "CA PEM")
	cert := flag.String("cert", "", "client certificate PEM")
	key := flag.String("key", "", "client key PEM")
	tls12 := flag.Bool("tls12", false, "TLS 1.2 only")
	twice := flag.Bool("twice", false, "connect twice (resumption)")
	flag.Parse()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(*ca)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		panic("cannot read CA")
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: *sni, ClientSessionCache: tls.NewLRUClientSessionCache(4),
		MinVersion: tls.VersionTLS13}
	if *tls12 {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	}
	if *cert != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			panic(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	n := 1
	if *twice {
		n = 2
	}
	for i := 0; i < n; i++ {
		c, err := tls.Dial("tcp", *addr, cfg)
		if err != nil {
			fmt.Println("dial:", err)
			continue
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		b, err := io.ReadAll(c)
		fmt.Println("resumed", c.ConnectionState().DidResume, "read", len(b), err)
		c.Close()
	}
}
