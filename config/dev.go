package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// DevSecretFile is the name of the file that keeps the generated development
// secret, beside the SQLite database (or in the working directory).
const DevSecretFile = "gatehouse.secret"

// FillDev fills in what `serve --dev` needs and nothing that is set: a SQLite
// database in the working directory, the public listener on loopback, a
// loopback issuer on the public port, a
// generated secret kept in a 0600 file beside the database (so a restart can
// still decrypt what it wrote), and text logs. It returns one line per choice
// for the start-up banner.
func (c *Config) FillDev() ([]string, error) {
	c.Dev = true
	var chose []string
	if c.DSN == "" {
		c.DSN = "sqlite:gatehouse.db"
		chose = append(chose, "database  sqlite:gatehouse.db (in the working directory)")
	}
	if !c.IsSet("GATEHOUSE_PUBLIC_ADDR") && c.PublicAddr == Default().PublicAddr {
		// A development server (http, a generated secret) is for this
		// machine: loopback only, unless an address is asked for.
		c.PublicAddr = "127.0.0.1" + c.PublicAddr
		chose = append(chose, "public    "+c.PublicAddr+" (loopback only)")
	}
	if c.Issuer == "" {
		port := "8080"
		if _, p, err := net.SplitHostPort(c.PublicAddr); err == nil && p != "" && p != "0" {
			port = p
		}
		c.Issuer = "http://localhost:" + port
		chose = append(chose, "issuer    "+c.Issuer)
	}
	if len(c.Secret) == 0 {
		line, err := c.devSecret()
		if err != nil {
			return chose, err
		}
		chose = append(chose, line)
	}
	if !c.IsSet("GATEHOUSE_LOG_FORMAT") {
		c.LogFormat = "text"
	}
	return chose, nil
}

func (c *Config) devSecret() (string, error) {
	dsn, err := ParseDSN(c.DSN)
	if err != nil {
		return "", fmt.Errorf("GATEHOUSE_DSN: %w", err)
	}
	if dsn.Memory {
		c.Secret = List{randomSecret()}
		return "secret    generated for this run only (memory database)", nil
	}
	dir := "."
	if dsn.Backend == "sqlite" {
		dir = filepath.Dir(dsn.Path)
	}
	path := filepath.Join(dir, DevSecretFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(raw))
		if len(s) < 32 {
			return "", fmt.Errorf("GATEHOUSE_SECRET: %s holds fewer than 32 bytes; delete it to generate a new one", path)
		}
		c.Secret = List{s}
		return "secret    read from " + path, nil
	case errors.Is(err, fs.ErrNotExist):
		s := randomSecret()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("GATEHOUSE_SECRET: write generated secret: %w", err)
		}
		_, werr := f.WriteString(s + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			return "", fmt.Errorf("GATEHOUSE_SECRET: write generated secret: %w", err)
		}
		c.Secret = List{s}
		return "secret    generated and kept in " + path + " (mode 0600)", nil
	default:
		return "", fmt.Errorf("GATEHOUSE_SECRET: read %s: %w", path, err)
	}
}

// randomSecret returns 256 random bits, base64url (43 bytes).
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
