// HTTPS server for the Go TLS end-to-end test (tests/e2e/go_tls.rs): Go's
// own crypto/tls and net/http, HTTP/1.1 (HTTP/2 too when asked), one JSON endpoint that leaks a
// planted key. Usage: server ADDR CERT KEY [h2].
package main

import (
	"crypto/tls"
	"fmt"
	"io/ioutil"
	"net"
	"net/http"
	"os"
)

// The planted secret: an AWS access key id the sensor must alert on.
const response = `{"id":42,"owner":"go-tls","aws_key_id":"AKIAZ7QW3RTLXJ5GOTLS"}`

func main() {
	addr, cert, key := os.Args[1], os.Args[2], os.Args[3]
	// A fourth argument "h2" offers HTTP/2 as well (ALPN).
	h2 := len(os.Args) > 4 && os.Args[4] == "h2"
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/accounts/42", func(w http.ResponseWriter, r *http.Request) {
		if _, err := ioutil.ReadAll(r.Body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, response)
	})
	server := &http.Server{
		Addr:    addr,
		Handler: mux,
		// HTTP/1.1 only: an empty map turns off HTTP/2 over TLS.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if h2 {
		server.TLSNextProto = nil
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	if err := server.ServeTLS(listener, cert, key); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
