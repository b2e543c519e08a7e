package rediscache

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// An entry in Redis is an envelope around the stored bytes:
//
//	[0]     format version
//	[1:9]   expiresAt, Unix nanoseconds, big-endian: checked on every read, so an entry is never served after
//	        it, whatever Redis's clock says
//	[9:17]  a random version stamp, new on every write: an L1 copy is current iff its stamp is Redis's
//	[17:]   the value (ciphertext unless InsecurePlaintext)
const (
	envelopeVersion = 1
	stampStart      = 9
	stampEnd        = 17
	envelopeHeader  = stampEnd
)

func seal(value []byte, expiresAt time.Time) []byte {
	env := make([]byte, envelopeHeader, envelopeHeader+len(value))
	env[0] = envelopeVersion
	binary.BigEndian.PutUint64(env[1:9], uint64(expiresAt.UnixNano()))
	binary.BigEndian.PutUint64(env[stampStart:stampEnd], rand.Uint64())
	return append(env, value...)
}

// open returns the value and expiry of an envelope, or ok == false when env is not one.
func open(env []byte) (value []byte, expires int64, ok bool) {
	if len(env) < envelopeHeader || env[0] != envelopeVersion {
		return nil, 0, false
	}
	return env[envelopeHeader:], int64(binary.BigEndian.Uint64(env[1:9])), true
}
