package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

const healthUsage = `gatehouse health [--url URL]

Asks a running gatehouse whether it is ready (GET /health/ready on the admin
listener) and exits 0 when it is, 1 otherwise. For container health checks,
where the image has no shell or curl.`

func runHealth(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "health", healthUsage)
	def := "http://127.0.0.1:8081/health/ready"
	if v, ok := e.lookup("GATEHOUSE_ADMIN_ADDR"); ok && v != "" {
		if v[0] == ':' {
			v = "127.0.0.1" + v
		}
		def = "http://" + v + "/health/ready"
	}
	url := fs.String("url", def, "readiness `URL` to ask")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("%w: --url: %v", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %d", *url, resp.StatusCode)
	}
	fmt.Fprintln(e.stdout, "ready")
	return nil
}
