package entratest

import "net/http"

// handleManagedIdentity is not built yet.
func (e *Emulator) handleManagedIdentity(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
