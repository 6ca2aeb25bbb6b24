// Package logging builds the one *slog.Logger gatehouse injects everywhere.
//
// Besides the global level, GATEHOUSE_DEBUG turns on debug lines for chosen
// areas only: a component takes its logger with Area(log, "login") and its
// debug lines pass when that area (or *) is on, whatever the global level.
// Keys are fixed snake_case (request_id, client_id, tenant_id, user_id, err);
// no token, code, password, secret or cookie value is ever logged.
package logging
