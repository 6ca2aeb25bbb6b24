package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

// The admin commands (clients, users, keys) share their plumbing here: the
// common flags, opening the store and the services the way serve does, and
// turning service errors into one line.

// adminFlags are the flags every admin command takes.
type adminFlags struct {
	config string
	dev    bool
	tenant string
	json   bool
}

// register adds --config, --dev and --tenant, and --json when withJSON.
func (a *adminFlags) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&a.config, "config", "", "YAML configuration `file` (the same as serve's; GATEHOUSE_* variables override it)")
	fs.BoolVar(&a.dev, "dev", false, "development mode, as serve --dev: ./gatehouse.db and ./gatehouse.secret where unset")
	fs.StringVar(&a.tenant, "tenant", tenant.Default, "tenant `id`")
	if withJSON {
		fs.BoolVar(&a.json, "json", false, "print JSON on stdout instead of text")
	}
}

// adminCommonHelp is appended to every admin usage text.
const adminCommonHelp = `
Configuration is serve's: --config FILE and GATEHOUSE_* variables. It needs
GATEHOUSE_DSN (the server's database, migrated with gatehouse migrate up) and
GATEHOUSE_SECRET (the server's secret: client secrets are hashed and signing
keys sealed with keys derived from it). With --dev, a missing GATEHOUSE_DSN
is sqlite:gatehouse.db and a missing secret is read from gatehouse.secret
beside it, exactly as serve --dev does.`

// admin is an open store with the services over it, for one command.
type admin struct {
	cfg   config.Config
	store storage.Store
	svc   *server.Services
}

func (a *admin) Close() error { return a.store.Close() }

// openAdmin loads the configuration, opens and checks the database and the
// tenant, and wires the services. The returned ctx carries the tenant.
func openAdmin(ctx context.Context, e *env, f adminFlags) (context.Context, *admin, error) {
	if !tenant.ValidID(f.tenant) {
		return nil, nil, fmt.Errorf("%w: --tenant: %q is not a tenant id (lower-case letters, digits and inner hyphens)", errUsage, f.tenant)
	}
	cfg, _, err := loadConfig(e, f.config, f.dev)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DSN == "" {
		return nil, nil, errors.New("GATEHOUSE_DSN: required: the server's database (postgres://… or sqlite:PATH), or --dev")
	}
	if dsn, err := config.ParseDSN(cfg.DSN); err != nil {
		return nil, nil, fmt.Errorf("GATEHOUSE_DSN: %w", err)
	} else if dsn.Memory {
		return nil, nil, errors.New("GATEHOUSE_DSN: memory is a throwaway database; name the server's database")
	}
	if len(cfg.Secret) == 0 {
		return nil, nil, errors.New("GATEHOUSE_SECRET: required: the server's secret (client secrets and signing keys depend on it), or --dev")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "http://localhost" // only cookie settings depend on it here
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	ring, err := keyring.New(cfg.Secret)
	if err != nil {
		return nil, nil, fmt.Errorf("GATEHOUSE_SECRET: %w", err)
	}
	store, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	a := &admin{cfg: cfg, store: store}
	if err := a.check(ctx, f.tenant); err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	log := slog.New(slog.DiscardHandler)
	if len(cfg.Debug) > 0 {
		log = logging.New(e.stderr, "warn", "text", cfg.Debug)
	}
	if a.svc, err = server.NewServices(cfg, store, ring, log, time.Now); err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	return tenant.With(ctx, f.tenant), a, nil
}

// check refuses a database that is not migrated and a tenant that does not
// exist, each with one line that says what to do.
func (a *admin) check(ctx context.Context, id string) error {
	if err := requireMigrated(ctx, a.store); err != nil {
		return err
	}
	if _, err := a.store.GetTenant(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("--tenant: no tenant %q", id)
	} else if err != nil {
		return err
	}
	return nil
}

// requireMigrated refuses a database with pending migrations: the command
// would fail half-way on a missing table or column.
func requireMigrated(ctx context.Context, store storage.Store) error {
	pending, err := store.Pending(ctx)
	if err != nil {
		return fmt.Errorf("GATEHOUSE_DSN: %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("GATEHOUSE_DSN: the database has %d pending migration(s); run gatehouse migrate up first", len(pending))
	}
	return nil
}

// checkSecret refuses to write secrets or keys with a GATEHOUSE_SECRET the
// server does not run with: the tenant's active and next signing keys must
// open with it. (Client secrets hashed or keys sealed with another secret
// would be useless to the server.)
func (a *admin) checkSecret(ctx context.Context) error {
	if err := a.svc.Provider.Keys.Check(ctx); err != nil {
		if errors.Is(err, provider.ErrKeysUnusable) {
			return errors.New("GATEHOUSE_SECRET: it does not open the tenant's signing keys; use the secret the server runs with")
		}
		return err
	}
	return nil
}

// explain turns a catalog error into one line: code, message and details.
// Other errors pass through.
func explain(err error) error {
	var ce *catalog.Error
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	msg := string(ce.Code) + ": " + ce.Message
	var details []string
	for _, k := range slices.Sorted(maps.Keys(ce.Details)) {
		v := ce.Details[k]
		if k == "field" && strings.Contains(ce.Message, fmt.Sprint(v)+":") {
			continue // the message names it already
		}
		if l, ok := v.([]string); ok {
			v = strings.Join(l, ",")
		}
		details = append(details, fmt.Sprintf("%s=%v", k, v))
	}
	if len(details) > 0 {
		msg += " (" + strings.Join(details, ", ") + ")"
	}
	return errors.New(msg)
}

// stringList is a repeatable string flag.
type stringList struct {
	values []string
}

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.values, " ")
}

func (l *stringList) Set(v string) error {
	l.values = append(l.values, v)
	return nil
}

// list returns the values given, without empty ones, never nil: an empty
// value (--flag "") clears the list.
func (l *stringList) list() []string {
	out := []string{}
	for _, v := range l.values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseWithID parses args that hold flags and exactly one positional
// argument, anywhere among them (gatehouse clients get ID --json or
// gatehouse clients get --json ID).
func parseWithID(fs *flag.FlagSet, args []string, what string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		if i := len(args) - fs.NArg() - 1; i >= 0 && args[i] == "--" {
			pos = append(pos, fs.Args()...) // after --, everything is an argument
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(pos) == 0:
		return "", fmt.Errorf("%w: want the %s as an argument", errUsage, what)
	case len(pos) > 1:
		return "", fmt.Errorf("%w: unexpected argument %q (want one %s)", errUsage, pos[1], what)
	}
	return pos[0], nil
}

// subcommand is one verb of an admin command (clients create, …).
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// dispatch runs the subcommand args[0] names; --help lists them.
func dispatch(ctx context.Context, e *env, group, about string, subs []subcommand, args []string) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if len(args) == 0 {
		return fmt.Errorf("%w: want gatehouse %s %s (see gatehouse %s --help)", errUsage, group, strings.Join(names, "|"), group)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		printGroupHelp(e.stdout, group, about, subs)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown %s command %q (want %s)", errUsage, group, args[0], strings.Join(names, ", "))
}

func printGroupHelp(w io.Writer, group, about string, subs []subcommand) {
	fmt.Fprintf(w, "Usage: gatehouse %s <command> [flags]    (gatehouse %s <command> --help for its flags)\n\n%s\n\nCommands:\n", group, group, about)
	for _, s := range subs {
		fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w, adminCommonHelp)
}

// printJSON writes v as one JSON document on stdout.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// timeText formats an optional time for tables.
func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
