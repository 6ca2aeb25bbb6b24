// Package main wires gatehouse together: it reads flags, the config file and
// the environment (the only place that does), and calls into server and the
// services. Every command has --help.
package main
