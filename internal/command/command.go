// Package command parses the ggl-fleetd command line, runs the chosen
// subcommand and maps its outcome to an exit code.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes shared with the systemd unit, which sets RestartPreventExitStatus=78.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitConfig = 78 // EX_CONFIG: a restart cannot help
)

// Defaults of the flags that name files.
const (
	defaultConfigPath = "/etc/greengrass/config.yaml"
	defaultStateDir   = "/var/lib/ggl-fleetd"
	defaultSysfsRoot  = "/"
)

// errUsage marks an error in the command line itself.
var errUsage = errors.New("usage error")

// subcommand is one verb of the command line.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"run", "provision the device unless it is already provisioned (default)", runCommand},
		{"identity", "print the device ID and how it was chosen; writes nothing", identityCommand},
		{"check", "validate the configuration and the claim credentials", checkCommand},
		{"status", "print the stamp of the last provisioning and whether it is valid", statusCommand},
		{"reprovision", "mark the device for provisioning on the next run", reprovisionCommand},
		{"version", "print the version", versionCommand},
	}
}

// Main runs the command line args and returns the process exit code. After
// SIGTERM or SIGINT it stops the work, then ends the process with that
// signal, which systemd counts as a clean stop, not a failure.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	stopped := make(chan syscall.Signal, 1)
	go func() {
		sig := (<-signals).(syscall.Signal)
		stopped <- sig
		cancel()
	}()

	code := dispatch(ctx, args, stdout, stderr)
	signal.Stop(signals)
	select {
	case sig := <-stopped:
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		// Delivery is asynchronous; the exit code is only a fallback.
		time.Sleep(time.Second)
		return 128 + int(sig)
	default:
		return code
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	} else if len(args) == 1 && isHelp(args[0]) {
		// A bare --help lists the commands; "run --help" lists run's flags.
		printUsage(stdout)
		return exitOK
	}
	if name == "help" {
		printUsage(stdout)
		return exitOK
	}

	for _, sc := range subcommands() {
		if sc.name == name {
			return exitCode(sc.run(ctx, args, stdout, stderr), stderr)
		}
	}
	fmt.Fprintf(stderr, "ggl-fleetd: unknown command %q\n", name)
	printUsage(stderr)
	return exitUsage
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: ggl-fleetd [command] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, sc := range subcommands() {
		fmt.Fprintf(w, "  %-12s %s\n", sc.name, sc.summary)
	}
	fmt.Fprintln(w, "\nRun 'ggl-fleetd COMMAND --help' for the flags of a command.")
}

// newFlagSet returns a flag set whose errors are reported, not fatal.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ggl-fleetd %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and rejects positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "ggl-fleetd %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	}

	fmt.Fprintf(stderr, "ggl-fleetd: %v\n", err)
	if isConfigError(err) {
		return exitConfig
	}
	return exitFailed
}
