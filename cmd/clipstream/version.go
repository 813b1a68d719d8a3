package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// versionOptions are the flags of 'clipstream version'.
type versionOptions struct {
	JSON bool
}

func (o *versionOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.JSON, "json", false, "print the version information as one JSON object")
}

// versionInfo is what 'clipstream version' prints. The vcs fields are
// present only when the binary was built from a VCS checkout with
// -buildvcs (the go command's default).
type versionInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  *bool  `json:"vcs_modified,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// readVersionInfo collects the build information of the running binary.
func readVersionInfo() versionInfo {
	v := versionInfo{
		Module:    "github.com/clipstream/clipstream",
		Version:   "unknown",
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			m := s.Value == "true"
			v.Modified = &m
		}
	}
	return v
}

func newVersionCmd(e *env) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version [flags]",
		Short: "Print the version, VCS revision, Go version and platform of this binary",
		Long: `version prints what this clipstream binary was built from: the module version, the VCS
revision, commit time and whether the working tree was modified (when the binary was
built from a checkout), the Go version, and the OS/architecture. With --json it prints
the same as one JSON object with the keys module, version, vcs_revision, vcs_time,
vcs_modified, go_version, os and arch (the vcs_ keys only when known).`,
		Example: `  clipstream version
  clipstream version --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), opts, e.stdout)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

// runVersion writes the build information to w, as text or JSON.
func runVersion(_ context.Context, opts versionOptions, w io.Writer) error {
	v := readVersionInfo()
	if opts.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "module:\t%s\n", v.Module)
	fmt.Fprintf(tw, "version:\t%s\n", v.Version)
	if v.Revision != "" {
		fmt.Fprintf(tw, "revision:\t%s\n", v.Revision)
	}
	if v.Time != "" {
		fmt.Fprintf(tw, "commit time:\t%s\n", v.Time)
	}
	if v.Modified != nil {
		fmt.Fprintf(tw, "modified:\t%t\n", *v.Modified)
	}
	fmt.Fprintf(tw, "go:\t%s\n", v.GoVersion)
	fmt.Fprintf(tw, "platform:\t%s/%s\n", v.OS, v.Arch)
	return tw.Flush()
}
