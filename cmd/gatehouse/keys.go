package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/storage"
)

const keysAbout = `Lists and rotates the tenant's token signing keys. Each algorithm has one
active key (signing), one next key (published in the JWKS before it signs)
and retired keys (published, verifying only, until what they signed expires).`

func keySubcommands() []subcommand {
	return []subcommand{
		{"list", "list the tenant's signing keys (never their private part)", runKeysList},
		{"rotate", "retire the active key, promote the next one, create a new next one", runKeysRotate},
	}
}

func runKeys(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "keys", keysAbout, keySubcommands(), args)
}

const keysUsage = `gatehouse keys list|rotate [--alg RS256|ES256] [flags]

` + keysAbout

const keysListUsage = `gatehouse keys list [--alg RS256|ES256] [flags]

Lists the tenant's signing keys: kid, algorithm, state (next, active,
retired), when each was created and activated, and when a retired key was
retired and stops being published. --json prints an array of keys. The
private keys are never printed.
` + adminCommonHelp

const keysRotateUsage = `gatehouse keys rotate [--alg RS256|ES256] [flags]

Rotates the tenant's signing key of --alg, or of both RS256 and ES256 when
--alg is not given: the active key retires (still published until what it
signed has expired), the next key becomes active and a new next key is
created. Prints the new active kid of each algorithm; --json prints
[{"alg":…,"kid":…,"retired_kid":…}]. A tenant without keys gets them first.

Relying parties that cache the JWKS learn of a next key only when they fetch
it again; the server rotates by itself every GATEHOUSE_KEY_ROTATION_PERIOD, so
rotate by hand when a key must go (e.g. it may have leaked), and preferably
not twice within a relying party's JWKS cache lifetime: without --force it
refuses to promote a next key published less than 5 minutes ago (the JWKS
Cache-Control max-age).
` + adminCommonHelp

// algFlag returns the algorithms --alg names (both when empty).
func algFlag(alg string) ([]string, error) {
	if alg == "" {
		return provider.Algs, nil
	}
	if !slices.Contains(provider.Algs, alg) {
		return nil, fmt.Errorf("%w: --alg: want RS256 or ES256, got %q", errUsage, alg)
	}
	return []string{alg}, nil
}

type keyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Expired     bool       `json:"expired,omitempty"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

var stateOrder = map[string]int{storage.KeyActive: 0, storage.KeyNext: 1, storage.KeyRetired: 2}

func runKeysList(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "keys list", keysListUsage)
	var af adminFlags
	af.register(fs, true)
	alg := fs.String("alg", "", "list only the keys of `alg` (RS256 or ES256)")
	if err := parse(fs, args); err != nil {
		return err
	}
	algs, err := algFlag(*alg)
	if err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	rows, err := a.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	out := []keyJSON{}
	for _, r := range rows {
		if !slices.Contains(algs, r.Alg) {
			continue
		}
		out = append(out, keyJSON{KID: r.KID, Alg: r.Alg, State: r.State, CreatedAt: r.CreatedAt.UTC(),
			ActivatedAt: utcPtr(r.ActivatedAt), RetiredAt: utcPtr(r.RetiredAt), ExpiresAt: utcPtr(r.ExpiresAt),
			Expired: r.State == storage.KeyRetired && r.ExpiresAt != nil && !now.Before(*r.ExpiresAt)})
	}
	slices.SortStableFunc(out, func(x, y keyJSON) int {
		return cmp.Or(cmp.Compare(x.Alg, y.Alg), cmp.Compare(stateOrder[x.State], stateOrder[y.State]),
			y.CreatedAt.Compare(x.CreatedAt))
	})
	if af.json {
		return printJSON(e.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(e.stdout, "tenant %s has no signing keys yet (the server creates them when it first signs; gatehouse keys rotate creates them too)\n", af.tenant)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tEXPIRES")
	for _, k := range out {
		expires := timeText(k.ExpiresAt)
		if k.Expired {
			expires += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, timeText(&k.CreatedAt),
			timeText(k.ActivatedAt), timeText(k.RetiredAt), expires)
	}
	return tw.Flush()
}

func runKeysRotate(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "keys rotate", keysRotateUsage)
	var af adminFlags
	af.register(fs, true)
	alg := fs.String("alg", "", "rotate only the key of `alg` (RS256 or ES256; default both)")
	force := fs.Bool("force", false, "rotate even if the next key was published less than 5 minutes ago (relying parties may not have fetched it yet)")
	if err := parse(fs, args); err != nil {
		return err
	}
	algs, err := algFlag(*alg)
	if err != nil {
		return err
	}
	ctx, a, err := openAdmin(ctx, e, af)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkSecret(ctx); err != nil {
		return err
	}
	type rotated struct {
		Alg        string `json:"alg"`
		KID        string `json:"kid"`
		RetiredKID string `json:"retired_kid,omitempty"`
	}
	out := []rotated{}
	for _, alg := range algs {
		kid, retired, err := a.svc.Provider.Keys.Rotate(ctx, alg, *force)
		if err != nil {
			return fmt.Errorf("rotate %s: %w", alg, err)
		}
		out = append(out, rotated{Alg: alg, KID: kid, RetiredKID: retired})
	}
	if af.json {
		return printJSON(e.stdout, out)
	}
	for _, r := range out {
		fmt.Fprintf(e.stdout, "%s: active key is now %s", r.Alg, r.KID)
		if r.RetiredKID != "" {
			fmt.Fprintf(e.stdout, " (retired %s)", r.RetiredKID)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
