package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/config"
)

// env is the outside world a command sees; tests supply their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
}

type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the identity provider (public and admin listeners)", serveUsage, runServe},
		{"migrate", "apply (up) or list (status) database migrations", migrateUsage, runMigrate},
		{"clients", "register and manage OAuth 2.0 / OIDC clients", clientsUsage, runClients},
		{"users", "create accounts", usersUsage, runUsers},
		{"keys", "list and rotate the token signing keys", keysUsage, runKeys},
		{"janitor", "delete expired tokens, sessions and flows, and old delivered events, now", janitorUsage, runJanitor},
		{"health", "exit 0 when a running gatehouse is ready (for container health checks)", healthUsage, runHealth},
		{"version", "print the version", "gatehouse version", runVersion},
	}
}

// errUsage marks errors caused by how the command was called (exit 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		printHelp(e.stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	if name == "help" {
		name, rest = args[1], []string{"--help"}
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, rest)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "gatehouse %s: %v\n", name, oneLine(err))
			return 2
		default:
			fmt.Fprintf(e.stderr, "gatehouse %s: %v\n", name, oneLine(err))
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "gatehouse: unknown command %q (see gatehouse --help)\n", name)
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "gatehouse: an OAuth 2.0 / OpenID Connect identity provider")
	fmt.Fprintln(w, "\nUsage: gatehouse <command> [flags]    (gatehouse <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nConfiguration comes from --config FILE (YAML) and GATEHOUSE_* variables; variables win:")
	for _, r := range config.Reference() {
		fmt.Fprintf(w, "  %-34s %-28s %s\n", r[0], r[1], r[2])
	}
}

// oneLine keeps an error on one line, whatever its causes printed.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// flags returns a FlagSet for a command that prints its usage on --help.
func flags(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and turns flag errors into usage errors (flag has
// already printed the message and usage on stdout).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// loadConfig loads --config and the environment; with dev it also fills in
// the development defaults and returns the banner lines.
func loadConfig(e *env, path string, dev bool) (config.Config, []string, error) {
	c, err := config.Load(path, e.lookup)
	if err != nil {
		return c, nil, err
	}
	var chose []string
	if dev {
		if chose, err = c.FillDev(); err != nil {
			return c, nil, err
		}
	}
	return c, chose, nil
}
