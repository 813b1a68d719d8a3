package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. run maps errors to them in one place; the root command's Long
// help and the package documentation list them for users.
const (
	exitOK          = 0   // the verb did what was asked
	exitFailure     = 1   // the verb failed; stderr says why
	exitUsage       = 2   // bad verb, flag or argument; nothing was done
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT)
)

// exitCodesHelp documents the exit codes above in the root command's help.
var exitCodesHelp = fmt.Sprintf(`Exit codes:
  %-3d  success
  %-3d  failure (the message on stderr says what failed)
  %-3d  usage error: unknown verb, bad flag or bad argument; nothing was done
  %-3d  interrupted by SIGINT or SIGTERM`,
	exitOK, exitFailure, exitUsage, exitInterrupted)

// usageError marks an error that is the user's invocation, not the work:
// an unknown verb, a bad flag or flag value, a wrong number of arguments.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one clipstream command line (without the program name) and
// returns the process exit code. It builds a fresh command tree on every
// call and keeps no state between calls, so tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil {
		cmd = root
	}
	path := cmd.CommandPath()

	var uerr *usageError
	switch {
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", path, err, path)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "%s: interrupted (%v)\n", path, err)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return exitFailure
	}
}
