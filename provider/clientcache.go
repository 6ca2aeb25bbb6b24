package provider

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// clientCache keeps parsed client records for at most TTL (default 1s), so
// a burst of token requests reads a client once instead of once per
// request. The bound is what makes it safe across replicas: a deleted
// client or a rotated secret is refused everywhere within TTL; on this
// replica at once, because the Clients service drops the entry it changes.
type clientCache struct {
	db    storage.Clients
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	items map[string]cachedClient
}

type cachedClient struct {
	c   *client
	err error
	at  time.Time
}

func (cc *clientCache) key(ctx context.Context, id string) string { return tenantID(ctx) + "\x00" + id }

func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	k := cc.key(ctx, id)
	if cc.ttl > 0 {
		cc.mu.Lock()
		it, ok := cc.items[k]
		cc.mu.Unlock()
		if ok && cc.now().Sub(it.at) < cc.ttl {
			return it.c, it.err
		}
	}
	// Loaded with the caller's ctx (and so in its transaction, if any): a
	// read, which nothing can roll back.
	var c *client
	row, err := cc.db.GetClient(ctx, id)
	if err == nil {
		c, err = newClient(row)
	}
	if cc.ttl > 0 && (err == nil || isNotFound(err)) {
		cc.mu.Lock()
		if cc.items == nil || len(cc.items) > 10000 {
			cc.items = map[string]cachedClient{}
		}
		cc.items[k] = cachedClient{c: c, err: err, at: cc.now()}
		cc.mu.Unlock()
	}
	return c, err
}

func (cc *clientCache) forget(ctx context.Context, id string) {
	cc.mu.Lock()
	delete(cc.items, cc.key(ctx, id))
	cc.mu.Unlock()
}
