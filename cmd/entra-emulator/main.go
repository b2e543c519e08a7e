// Command entra-emulator runs the local Microsoft Entra ID emulator (package ginidentity/entratest) as a
// server: the same emulator every sample's local mode starts in-process, with the same CA and signing key,
// kept in the shared state directory.
//
//	go run ./cmd/entra-emulator -ca-out ca.pem
//
// Flags:
//
//	-addr       address to listen on (default 127.0.0.1:5443, where the samples look for it)
//	-directory  a directory JSON file (tenants, users, apps) to serve instead of the default one
//	-ca-out     write the CA certificate (PEM) to this file, for clients to trust
//	-state-dir  the state directory (default $ENTRA_EMULATOR_STATE_DIR, else the user cache directory)
//
// When it is ready it prints one line, "listening on https://HOST:PORT", to standard output; requests are
// logged to standard error (paths only: never a token, a code or a secret). It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-identity/kit/ginidentity/entratest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "entra-emulator:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("entra-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", entratest.LocalAddr, "address to listen on")
	dirFile := fs.String("directory", "", "directory JSON file to serve instead of the default directory")
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) to this file")
	stateDir := fs.String("state-dir", "", "state directory (default $"+entratest.StateDirEnv+", else the user cache directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag (see -h)", fs.Args())
	}

	logger := log.New(stderr, "entra-emulator: ", log.LstdFlags)
	opts := []entratest.LocalOption{entratest.WithLocalAddr(*addr), entratest.WithLocalLogger(logger), entratest.WithoutSharing()}
	if *stateDir != "" {
		opts = append(opts, entratest.WithStateDir(*stateDir))
	}
	if *dirFile != "" {
		d, err := entratest.LoadDirectory(*dirFile)
		if err != nil {
			return err
		}
		opts = append(opts, entratest.WithLocalDirectory(d))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := entratest.Local(ctx, opts...)
	if errors.Is(err, entratest.ErrAlreadyRunning) {
		return fmt.Errorf("%w; the samples already share it", err)
	}
	if err != nil {
		return err
	}
	defer l.Close()
	if *caOut != "" {
		if err := os.WriteFile(*caOut, l.CACertPEM(), 0o644); err != nil {
			return fmt.Errorf("write -ca-out: %w", err)
		}
	}
	fmt.Fprintf(stdout, "listening on %s\n", l.URL())
	<-ctx.Done()
	logger.Print("stopping")
	return nil
}
