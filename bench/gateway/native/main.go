// Command native is the baseline of the gateway benchmark: a plain Go
// net/http hello handler, answering what the wasm hello handlers answer.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18080", "address")
	flag.Parse()
	body := []byte("hello from Go\n")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
