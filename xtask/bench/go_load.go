// The Go HTTPS case's client (cargo xtask bench --case go): GOROUTINES
// goroutines making keep-alive HTTPS GETs of URL for SECONDS, over Go's
// own crypto/tls (the certificate is the bench's self-signed one, not
// verified). Prints the requests completed and the CPU seconds this
// process used. Usage: go_load URL GOROUTINES SECONDS.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"io/ioutil"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	url := os.Args[1]
	goroutines, _ := strconv.Atoi(os.Args[2])
	seconds, _ := strconv.Atoi(os.Args[3])
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: goroutines,
		// HTTP/1.1: an empty map turns off HTTP/2 over TLS.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	client := &http.Client{Transport: transport}
	var requests int64
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var done sync.WaitGroup
	for i := 0; i < goroutines; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			for time.Now().Before(deadline) {
				response, err := client.Get(url)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				io.Copy(ioutil.Discard, response.Body)
				response.Body.Close()
				atomic.AddInt64(&requests, 1)
			}
		}()
	}
	done.Wait()
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	fmt.Println(requests, cpu.Seconds())
}
