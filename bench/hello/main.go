// Command hello is the ceiling server for bench/run.sh: a plain net/http
// handler that answers every request with a short text body, so the load
// generator measures what this machine can do for HTTP alone.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	flag.Parse()
	body := []byte("hello, world\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	})
	log.Printf("hello listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
