package entratest

import "net/http"

// handleAuthorize is not built yet.
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
