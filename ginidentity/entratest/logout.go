package entratest

import "net/http"

// handleLogout is not built yet.
func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
