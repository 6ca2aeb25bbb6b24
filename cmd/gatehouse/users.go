package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/login"
)

const usersAbout = `Manages the accounts of a tenant.`

func userSubcommands() []subcommand {
	return []subcommand{
		{"create", "create an account with a password", runUsersCreate},
	}
}

func runUsers(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "users", usersAbout, userSubcommands(), args)
}

const usersUsage = `gatehouse users create --email EMAIL (--password PASSWORD | --password-stdin) [flags]

` + usersAbout

const usersCreateUsage = `gatehouse users create --email EMAIL (--password PASSWORD | --password-stdin) [flags]

Creates an account of the tenant that signs in with EMAIL and the password,
and prints its user_id. --json prints {"user_id":"…","email":"…"}.

Prefer --password-stdin: it reads the password from the first line of
standard input (the line break is not part of it), so the password stays out
of the shell history and the process list, e.g.
  printf '%s\n' "$PASSWORD" | gatehouse users create --email a@example.com --password-stdin
Passwords are 15 to 256 characters, must not be the email address and must
not be one of the 100,000 most common passwords.
` + adminCommonHelp

func runUsersCreate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "users create", usersCreateUsage)
	var af adminFlags
	af.register(fs, true)
	email := fs.String("email", "", "the account's email `address` (required)")
	password := fs.String("password", "", "the `password` (visible in shell history and the process list; prefer --password-stdin)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	verified := fs.Bool("verified", false, "mark the email address as verified")
	name := fs.String("name", "", "the account's display `name`")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case strings.TrimSpace(*email) == "":
		return fmt.Errorf("%w: --email is required", errUsage)
	case given["password"] && *fromStdin:
		return fmt.Errorf("%w: give --password or --password-stdin, not both", errUsage)
	case !given["password"] && !*fromStdin:
		return fmt.Errorf("%w: give --password or --password-stdin", errUsage)
	}
	pw := *password
	if *fromStdin {
		var err error
		if pw, err = readPasswordLine(e.stdin); err != nil {
			return err
		}
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.svc.Accounts.CreateUser(ctx, login.NewUser{Email: *email, Password: pw, EmailVerified: *verified, Name: *name})
	if err != nil {
		return explain(err)
	}
	if af.json {
		return printJSON(e.stdout, struct {
			UserID string `json:"user_id"`
			Email  string `json:"email"`
		}{u.ID, u.Email})
	}
	fmt.Fprintf(e.stdout, "user_id: %s\n", u.ID)
	return nil
}

// readPasswordLine reads the first line of r without its line break.
func readPasswordLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("--password-stdin: no standard input")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--password-stdin: standard input holds no password")
	}
	return line, nil
}
