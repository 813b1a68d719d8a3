package main

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globalOptions are the persistent flags every verb takes.
type globalOptions struct {
	LogLevel  string // debug|info|warn|error
	LogFormat string // text|json
}

func (o *globalOptions) addFlags(fs *pflag.FlagSet) {
	o.LogLevel = "info"
	o.LogFormat = "text"
	fs.Var(newEnumValue(&o.LogLevel, "debug", "info", "warn", "error"), "log-level",
		"lowest `level` of log lines written to stderr: debug, info, warn or error")
	fs.Var(newEnumValue(&o.LogFormat, "text", "json"), "log-format",
		"`format` of log lines on stderr: text (key=value) or json (one object a line)")
}

// logger builds the slog logger the flags ask for, writing to w.
func (o *globalOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, usageErrorf("invalid --log-level %q: %v", o.LogLevel, err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, usageErrorf("invalid --log-format %q (want text or json)", o.LogFormat)
	}
}

// env is what every verb is handed: the streams and the logger. The logger
// is set by the root's PersistentPreRunE, once the global flags are parsed.
type env struct {
	stdin  io.Reader
	stdout io.Writer // results
	stderr io.Writer // logs and errors
	log    *slog.Logger
}

// newRootCmd builds the whole command tree. Nothing in it is shared between
// calls: flags bind to option structs created here.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var g globalOptions
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.DiscardHandler)}

	root := &cobra.Command{
		Use:   "clipstream",
		Short: "Build an image/alt-text corpus on object storage and train CLIP on it",
		Long: `clipstream crawls the web for image/alt-text pairs, writes them as crash-safe WebDataset
shards to object storage (a local directory or any S3-compatible store), streams those
shards into CLIP training on CPU or CUDA, and resumes training from checkpoints kept in
the same store.

What works so far: storage (file:// and s3://), crawling ('clipstream crawl'), the
shard tools ('clipstream shards'), training on the CPU with checkpoints in the store
('clipstream train'), evaluation ('clipstream eval') and 'clipstream demo', which
exercises storage.

Results go to stdout; logs go to stderr (see --log-level and --log-format).
Credentials for s3:// come only from the environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, AWS_REGION).

` + exitCodesHelp,
		Example: `  clipstream demo --out ./clipstream-demo
  clipstream version --json
  clipstream train --help`,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		SilenceErrors: true, // run prints errors and picks the exit code
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := g.logger(e.stderr)
			if err != nil {
				return err
			}
			e.log = l
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SuggestionsMinimumDistance = 2
	root.SetUsageTemplate(usageTemplate(root.UsageTemplate()))
	g.addFlags(root.PersistentFlags())

	root.AddCommand(
		newCrawlCmd(e),
		newShardsCmd(e),
		newDedupCmd(e),
		newTrainCmd(e),
		newBenchCmd(e),
		newEvalCmd(e),
		newPlotCmd(e),
		newDemoCmd(e),
		newFixturesCmd(e),
		newFixtureSiteCmd(e),
		newVersionCmd(e),
	)
	return root
}

// groupRunE is the RunE of a command that only groups verbs (the root,
// shards): with no verb it prints its usage to stderr, and an unknown verb
// is a usage error naming the closest matches.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
		return usageErrorf("missing verb")
	}
	msg := fmt.Sprintf("unknown verb %q", args[0])
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return usageErrorf("%s", msg)
}

// usageTemplate adapts cobra's usage template to commands that group verbs:
// the root and shards run only to report a missing or unknown verb, so their
// usage line is "PATH <verb> [flags]" rather than cobra's "PATH [flags]"
// followed by "PATH [command]".
func usageTemplate(t string) string {
	return strings.NewReplacer(
		"{{if .Runnable}}\n  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} [command]{{end}}",
		"{{if .HasAvailableSubCommands}}\n  {{.CommandPath}} <verb> [flags]{{else}}\n  {{.UseLine}}{{end}}",
		"Available Commands:", "Verbs:",
		"{{.CommandPath}} [command] --help", "{{.CommandPath}} <verb> --help",
		"more information about a command", "more information about a verb",
	).Replace(t)
}

// usageArgs makes the errors of a cobra positional-argument check usage
// errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &usageError{err: err}
		}
		return nil
	}
}

// enumValue is a string flag that accepts only a fixed set of values, so a
// bad value fails while flags are parsed (a usage error).
type enumValue struct {
	p       *string
	allowed []string
}

// newEnumValue binds p, whose current value is the default, to a flag that
// accepts only allowed.
func newEnumValue(p *string, allowed ...string) *enumValue {
	return &enumValue{p: p, allowed: allowed}
}

func (v *enumValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (v *enumValue) Set(s string) error {
	if !slices.Contains(v.allowed, s) {
		return fmt.Errorf("must be one of %s", strings.Join(v.allowed, ", "))
	}
	*v.p = s
	return nil
}

func (v *enumValue) Type() string { return strings.Join(v.allowed, "|") }
