//go:build unix

package storage

import (
	"errors"
	"syscall"
)

// isNotDir reports ENOTDIR: a path runs through a file, as when key "a/b" is
// asked for while "a" is an object. For a store that means "no such object".
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
