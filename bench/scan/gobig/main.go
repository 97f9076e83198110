// Command gobig is the large Go wasip1 module of the scan benchmark: it
// links net/http, encoding/json and text/template (about 10 MB of wasm).
package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"text/template"
)

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path})
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	t := template.Must(template.New("t").Parse("{{.}}\n"))
	t.Execute(os.Stdout, rec.Body.String())
}
