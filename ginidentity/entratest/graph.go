package entratest

import "net/http"

// handleGraph is not built yet.
func (e *Emulator) handleGraph(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
