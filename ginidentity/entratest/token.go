package entratest

import "net/http"

// handleToken is not built yet.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
