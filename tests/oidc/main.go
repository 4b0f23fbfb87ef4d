// Command oidc-provider serves an OpenID Connect issuer for tests: authorization-code flow with
// PKCE, a username/password login form, static users from a JSON file and one confidential client,
// over TLS with the given certificate. It is zitadel/oidc's provider (package op, OpenID
// certified) with the in-memory storage and login pages of the library's example server; only the
// flags and TLS are ours.
package main

import (
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

func main() {
	issuer := flag.String("issuer", "", "issuer URL (https://127.0.0.1:PORT)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	cert := flag.String("tls-cert", "", "PEM certificate for the issuer's address")
	key := flag.String("tls-key", "", "PEM private key of -tls-cert")
	users := flag.String("users", "", "JSON file: {ID: {ID, Username, Password, Email, ...}}")
	clientID := flag.String("client-id", "lockstep-ui", "the confidential client's id")
	clientSecret := flag.String("client-secret", "", "the client's secret")
	redirects := flag.String("redirect-uris", "", "comma-separated redirect URIs the client may use")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *issuer == "" || *cert == "" || *key == "" || *users == "" || *clientSecret == "" || *redirects == "" {
		logger.Error("-issuer, -tls-cert, -tls-key, -users, -client-secret and -redirect-uris are required")
		os.Exit(2)
	}
	store, err := storage.StoreFromFile(*users)
	if err != nil {
		logger.Error("reading the users", "file", *users, "error", err)
		os.Exit(1)
	}
	storage.RegisterClients(storage.WebClient(*clientID, *clientSecret, strings.Split(*redirects, ",")...))
	router := exampleop.SetupServer(*issuer, storage.NewStorage(store), logger, false)
	server := &http.Server{Addr: *listen, Handler: router}
	logger.Info("serving", "issuer", *issuer, "listen", *listen)
	if err := server.ListenAndServeTLS(*cert, *key); err != http.ErrServerClosed {
		logger.Error("serving", "error", err)
		os.Exit(1)
	}
}
