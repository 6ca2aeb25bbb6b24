// Package config is gatehouse's one Config: defaults, then a YAML file
// (--config), then GATEHOUSE_* environment variables, the environment
// winning. Validate reports every problem at once, each naming its key.
// FillDev is what `serve --dev` does: fill in only what is unset so gatehouse
// runs with no set-up, and say what it chose. Only cmd/gatehouse reads the
// real environment; this package is handed a lookup function.
package config
