// HTTPS client for the Go TLS end-to-end test (tests/e2e/go_tls.rs): waits
// for a line on stdin (the test sends it once the sensor has attached this
// new program), then POSTs JSON to URL with Go's own crypto/tls and prints
// the response's status, body length and protocol. Usage: client URL [h2].
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io/ioutil"
	"net/http"
	"os"
	"strings"
)

const request = `{"note":"rotate the key","requested_by":"go-client"}`

func main() {
	url := os.Args[1]
	// A second argument "h2" asks for HTTP/2 (ALPN).
	h2 := len(os.Args) > 2 && os.Args[2] == "h2"
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{
		// The test's certificate is self-signed. A Transport of its own
		// speaks HTTP/1.1 unless told otherwise.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: h2,
	}}
	resp, err := client.Post(url, "application/json", strings.NewReader(request))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, err := ioutil.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d %d %s\n", resp.StatusCode, len(body), resp.Proto)
}
