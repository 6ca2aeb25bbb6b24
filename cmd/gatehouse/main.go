// Command gatehouse is the OAuth 2.0 / OpenID Connect identity provider:
// one binary with serve, migrate, version and the admin commands. main only
// parses, runs and closes; the server itself lives in package server so tests
// start the very same thing in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv})
	stop()
	os.Exit(code)
}
