// Command preau runs Préau: the server, the demo and the admin commands.
// Everything is in internal/cli; this file only wires process signals.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"preau/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
