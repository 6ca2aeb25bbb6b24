// Package tenant carries the tenant of a request in its context.
//
// Every account, client, token, key, identity, grant and event belongs to one
// tenant. HTTP requests under /t/{tenant}/ are served for that tenant and the
// root path for the Default tenant; the HTTP edge puts the id in the context
// and every store method reads it from there. The package knows no HTTP and
// no storage: it only owns the context key and the id syntax.
package tenant
