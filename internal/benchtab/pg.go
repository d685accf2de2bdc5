package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// freshDatabase creates an empty database on the server of dsn, and returns
// its DSN and how to drop it.
func freshDatabase(ctx context.Context, dsn string) (string, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "hookflow_bench_" + hex.EncodeToString(b)
	admin := func(stmt string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() { _ = admin("DROP DATABASE " + name + " WITH (FORCE)") }, nil
}

// httpGet returns the size of what GET url answers.
func httpGet(url string) (int64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}
