package storage

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; every error a
// store returns also names the operation and the object's URL.
var (
	// ErrNotExist: no object under the key (or no bucket behind the URL).
	ErrNotExist = errors.New("storage: object does not exist")
	// ErrExists: PutIfAbsent found an object under the key.
	ErrExists = errors.New("storage: object already exists")
	// ErrInvalidKey: the key is not one CheckKey accepts.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrInvalidRange: GetRange was asked for an offset past the end.
	ErrInvalidRange = errors.New("storage: invalid range")
	// ErrBadURL: Open could not make sense of its URL.
	ErrBadURL = errors.New("storage: bad store URL")
	// ErrPermission: the store refused the credentials or the operation.
	// It is permanent: retrying will not help.
	ErrPermission = errors.New("storage: permission denied")
	// ErrShortBody: a Put's reader ended before the size it declared.
	ErrShortBody = errors.New("storage: reader ended before the declared size")
)

// Error is the error type of every store operation. It names the operation
// and the object, never credentials.
type Error struct {
	Op  string // "put", "get", "stat", ...
	URL string // the object's (or store's) URL
	Err error
}

func (e *Error) Error() string { return "storage: " + e.Op + " " + e.URL + ": " + e.Err.Error() }

// Unwrap returns the cause, so errors.Is finds the sentinels above.
func (e *Error) Unwrap() error { return e.Err }
